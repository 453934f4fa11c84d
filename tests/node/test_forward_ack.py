"""A follower acknowledges a forwarded command once it has applied it itself.

It does not need the leader's reply for that: a follower applies only committed
entries, and the leader's reply would only have sent it to wait for the same apply.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from mesh.client.api import EmbeddedNode, LocalClient
from mesh.net import schema
from mesh.node.node import Node
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper


def test_a_follower_answers_once_it_applied_the_command_even_without_the_leaders_reply(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped: list[str] = []
    real_dispatch = Node._dispatch

    def dispatch(self: Node, peer: str, message: schema.WireMessage) -> None:
        if isinstance(message, schema.ForwardReply):
            dropped.append(message.req_id)  # the leader's reply never arrives
            return
        real_dispatch(self, peer, message)

    monkeypatch.setattr(Node, "_dispatch", dispatch)
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    site.start(site.names[:2])
    leader = site.leader(site.names[:2])
    node = EmbeddedNode(site.data(site.names[2]))  # the follower, in this process
    client: LocalClient = node.start()
    try:
        deadline = time.monotonic() + 15
        while True:
            status = client.status(with_hash=False)
            if status["leader"] == leader and status["in_quorum"]:
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        command: dict[str, Any] = {
            "type": "open_check", "id": uuid.uuid4().hex, "by": "s-ana",
            "table": "9", "guests": 2, "server": "s-ana",
        }  # fmt: skip
        reply = client.submit(command, timeout=3.0)
        assert reply["ok"], reply
        check = reply["outcome"]["check"]
        # Applied once, and visible here the moment the answer came.
        found = client.checks(check=check)
        assert found["ok"], found
        again = client.submit(command, timeout=3.0)  # a retry: the first outcome, not a 2nd check
        assert again["ok"] and again["outcome"]["check"] == check, again
        opened = client.checks(table="9")["checks"]
        assert len(opened) == 1, opened
    finally:
        node.stop()
