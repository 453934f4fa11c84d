"""A follower answers a forwarded command from its own apply of it.

Applying is deterministic, so the outcome a follower computes when the commit news
reaches it is the leader's; the leader's reply leaves only after the leader has
applied too. Here the follower never sees the leader's replies at all, and must
still answer every command, once, with the outcome the leader would have sent.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from mesh.client.api import EmbeddedNode
from mesh.net import schema
from mesh.node.node import Node
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(120)


def test_a_follower_answers_forwarded_commands_without_the_leaders_reply(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])

    replies_seen: list[str] = []
    real_dispatch = Node._dispatch

    def dispatch(self: Node, peer: str, message: schema.WireMessage) -> None:
        if isinstance(message, schema.ForwardReply):
            replies_seen.append(message.req_id)
            return  # lost on the way: the follower must not need it
        real_dispatch(self, peer, message)

    # Only the node embedded in this process is patched; the others are processes.
    monkeypatch.setattr(Node, "_dispatch", dispatch)
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        deadline = time.monotonic() + 30
        while (status := client.status(with_hash=False))["leader"] != leader:
            assert time.monotonic() < deadline, f"{here} never followed {leader}: {status}"
            time.sleep(0.05)
        assert status["role"] == "follower"

        opened = client.submit(
            {"type": "open_check", "id": uuid.uuid4().hex, "by": "s-ana",
             "table": "9", "guests": 2, "server": "s-ana"},
            timeout=4.0,
        )  # fmt: skip
        assert opened["ok"], opened
        check = opened["outcome"]["check"]

        cid = uuid.uuid4().hex
        add = {"type": "add_items", "id": cid, "by": "s-ana", "check": check,
               "items": [{"item": "soda", "qty": 1, "note": cid}]}  # fmt: skip
        added = client.submit(add, timeout=4.0)
        assert added["ok"], added
        again = client.submit(add, timeout=4.0)  # a retry with the same id: applied once
        assert again["ok"], again
        assert again.get("duplicate") and again["index"] == added["index"]

        # The leader's own view of the same command: the same outcome, at the same index.
        on_leader = site.client(leader).checks(check=check)
        assert on_leader["ok"], on_leader
        assert [line["note"] for line in on_leader["check"]["lines"]] == [cid]
        assert replies_seen, "the leader sent no reply: the test did not test anything"
    finally:
        node.stop()
