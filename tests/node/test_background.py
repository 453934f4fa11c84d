"""Snapshots and state hashes worked out in a forked child while the node's loop serves.

A busy day's ledger takes seconds to encode; on the loop that would stall heartbeats
past the election timeout. These tests pin down what the child sees (the state at
the fork, not later changes), that the loop keeps running meanwhile, that a failure
or a cancel is clean, that the child lets go of inherited ports, and that a node
whose snapshots are made this way restarts from them to the same state.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from mesh.client.api import EmbeddedNode, LocalClient
from mesh.node import background, constants
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.skipif(not background.can_fork(), reason="needs os.fork")

WAIT_S = 10.0  # s; the longest any child here waits for its cue


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_child_sees_the_state_of_the_fork_not_later_changes() -> None:
    state = {"lines": ["soda"]}

    async def main() -> bytes:
        child = background.Child(lambda: ",".join(state["lines"]).encode())
        state["lines"].append("ribeye")  # after the fork: the child must not see it
        return await child.result()

    assert asyncio.run(main()) == b"soda"
    assert state["lines"] == ["soda", "ribeye"]


def test_the_loop_keeps_serving_while_the_child_works(tmp_path: Path) -> None:
    cue = tmp_path / "cue"
    served: list[int] = []

    def work() -> bytes:
        wait_for_file(cue)  # finishes only once the parent's loop has run on
        return b"done" if cue.exists() else b"no cue"

    async def main() -> bytes:
        job = asyncio.ensure_future(background.in_child(work))
        for turn in range(5):
            await asyncio.sleep(0.01)
            served.append(turn)
        cue.touch()
        return await asyncio.wait_for(job, WAIT_S + 5)

    assert asyncio.run(main()) == b"done"
    assert served == [0, 1, 2, 3, 4]


def test_a_failing_work_is_reported_with_its_error() -> None:
    def work() -> bytes:
        raise ValueError("the ledger is on fire")

    with pytest.raises(background.BackgroundFailed, match="the ledger is on fire"):
        asyncio.run(background.in_child(work))


def test_cancelling_the_caller_kills_the_child(tmp_path: Path) -> None:
    never = tmp_path / "never"

    async def main() -> int:
        child = background.Child(lambda: wait_for_file(never) or b"late")
        job = asyncio.ensure_future(child.result())
        await asyncio.sleep(0.05)
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        return child.pid

    pid = asyncio.run(main())
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: no zombie left behind


def test_the_child_lets_go_of_inherited_ports(tmp_path: Path) -> None:
    cue = tmp_path / "cue"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    async def main() -> bool:
        child = background.Child(lambda: wait_for_file(cue) or b"ok")
        try:
            # The node was killed while the child works: its restart must get its port.
            # (The child closes what it inherited as it starts: give it that moment.)
            listener.close()
            rebound = False
            deadline = time.monotonic() + WAIT_S
            while not rebound and time.monotonic() < deadline:
                with socket.socket() as again:
                    try:
                        again.bind(("127.0.0.1", port))
                        rebound = True
                    except OSError:
                        await asyncio.sleep(0.02)
        finally:
            cue.touch()
            await child.result()
        return rebound

    try:
        assert asyncio.run(main())
    finally:
        listener.close()


def _run_on_loop(node: EmbeddedNode, fn: Callable[[], str]) -> str:
    async def call() -> str:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), node._loop).result(timeout=10)


def test_a_node_snapshots_and_hashes_off_its_loop_and_restarts_from_it(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(constants, "HASH_IN_CHILD_ABOVE", 0)  # hash in a child from the start
    site = Cluster(tmp_path / "s", reaper, nodes=1, tweak=lambda raw: raw.update(snapshot_every=20))
    data = site.data(site.names[0])
    node = EmbeddedNode(data)
    client: LocalClient = node.start()
    try:
        deadline = time.monotonic() + 15
        while client.status(with_hash=False)["role"] != "leader" and time.monotonic() < deadline:
            time.sleep(0.05)
        for table in range(30):
            reply = client.submit(
                {"type": "open_check", "id": uuid.uuid4().hex, "by": "s-ana",
                 "table": str(table), "guests": 2, "server": "s-ana"}
            )  # fmt: skip
            assert reply["ok"], reply
        deadline = time.monotonic() + 15
        while client.status(with_hash=False)["snapshot_index"] == 0:
            assert time.monotonic() < deadline, "no snapshot was stored"
            time.sleep(0.05)
        status = client.status()
        assert node._node is not None
        ledger = node._node.replica.ledger  # type: ignore[union-attr]
        here = _run_on_loop(node, lambda: hashlib.sha256(ledger.snapshot()).hexdigest())
        assert status["state_hash"] == here
        applied = status["applied_index"]
    finally:
        node.stop()
    again = EmbeddedNode(data)
    client = again.start()
    try:
        status = client.status()
        assert status["snapshot_index"] > 0
        assert status["applied_index"] == applied
        assert status["state_hash"] == here
    finally:
        again.stop()
