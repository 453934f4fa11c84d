"""Where a node writes a Ready: on its loop, or on a thread after a slow write."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path

import pytest

from mesh.client.api import EmbeddedNode, LocalClient
from mesh.node import constants
from mesh.node.replica import Replica, WritePlan
from mesh.node.write_placement import WritePlacement
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_writes_run_on_the_loop_until_one_is_slow() -> None:
    clock = Clock()
    place = WritePlacement(slow_s=0.05, thread_for_s=30.0, clock=clock)
    assert place.on_loop(has_snapshot=False)
    place.ran_on_loop(0.05)  # at the limit: still fine
    assert place.on_loop(has_snapshot=False)
    assert place.slow_writes == 0


def test_a_snapshot_is_always_written_on_a_thread() -> None:
    place = WritePlacement(slow_s=0.05, thread_for_s=30.0, clock=Clock())
    assert not place.on_loop(has_snapshot=True)


def test_a_slow_write_sends_writes_to_a_thread_for_a_while(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    place = WritePlacement(slow_s=0.05, thread_for_s=30.0, clock=clock)
    with caplog.at_level(logging.WARNING, logger="mesh.node.write_placement"):
        place.ran_on_loop(0.2)
    assert place.slow_writes == 1
    assert "a write held the loop" in caplog.text
    assert not place.on_loop(has_snapshot=False)
    clock.now += 29.9
    assert not place.on_loop(has_snapshot=False)
    clock.now += 0.2
    assert place.on_loop(has_snapshot=False)


def test_a_node_writes_on_its_loop_then_on_a_thread_after_a_slow_write(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "WRITE_SLOW_S", 0.0)  # the first write counts as slow
    where: list[str] = []
    real_write = Replica.write

    def write(self: Replica, plan: WritePlan) -> None:
        where.append(threading.current_thread().name)
        real_write(self, plan)

    monkeypatch.setattr(Replica, "write", write)
    site = Cluster(tmp_path / "s", reaper, nodes=1)
    node = EmbeddedNode(site.data(site.names[0]))
    client: LocalClient = node.start()
    try:
        deadline = time.monotonic() + 15
        while client.status(with_hash=False)["role"] != "leader":
            assert time.monotonic() < deadline, "no leader"
            time.sleep(0.05)
        loop_thread = node._thread.name
        assert where[0] == loop_thread  # the first write ran on the loop
        reply = client.submit(
            {"type": "open_check", "id": uuid.uuid4().hex, "by": "s-ana",
             "table": "4", "guests": 2, "server": "s-ana"}
        )  # fmt: skip
        assert reply["ok"], reply
        assert client.status(with_hash=False)["disk"]["slow_writes"] >= 1
        assert where[-1] != loop_thread  # after a slow one: on a worker thread
    finally:
        node.stop()
