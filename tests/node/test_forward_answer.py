"""A follower answers a forwarded command from its own apply of it.

Applying is deterministic, so the outcome a follower computes when the commit news
reaches it is the leader's. The leader tells it only the index it proposed the
command at; an outcome at another index is of the same id sent before, and is
answered as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mesh.client.api import ClientError, ControlClient, EmbeddedNode, LocalClient
from mesh.ledger.entry import LedgerEntry, decode_payload
from mesh.net import schema
from mesh.node.node import Forwarding, Node
from mesh.node.replica import Applied, Replica, WritePlan
from mesh.node.write_placement import WritePlacement
from mesh.raft.raft import Role
from mesh.raft.types import Message, MessageType
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(120)


def open_check(client: LocalClient) -> dict[str, Any]:
    return client.submit(
        {"type": "open_check", "id": uuid.uuid4().hex, "by": "s-ana",
         "table": "9", "guests": 2, "server": "s-ana"},
        timeout=4.0,
    )  # fmt: skip


def follow(client: LocalClient, leader: str) -> None:
    """Wait until the embedded node follows ``leader`` (bounded)."""
    deadline = time.monotonic() + 30
    while (status := client.status(with_hash=False))["leader"] != leader:
        assert time.monotonic() < deadline, f"never followed {leader}: {status}"
        time.sleep(0.05)
    assert status["role"] == "follower", status


def test_a_follower_answers_forwarded_commands_without_the_leaders_reply(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])

    real_dispatch = Node._dispatch

    def dispatch(self: Node, peer: str, message: schema.WireMessage) -> None:
        if isinstance(message, schema.ForwardReply) and message.outcome is not None:
            return  # a full reply, lost on the way: the follower must not need it
        real_dispatch(self, peer, message)

    # Only the node embedded in this process is patched; the others are processes.
    monkeypatch.setattr(Node, "_dispatch", dispatch)
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        follow(client, leader)

        opened = open_check(client)
        assert opened["ok"] and not opened.get("duplicate"), opened
        check = opened["outcome"]["check"]

        add = add_soda(check)
        cid = add["id"]
        added = client.submit(add, timeout=4.0)
        assert added["ok"] and not added.get("duplicate"), added
        again = client.submit(add, timeout=4.0)  # a retry with the same id: applied once
        assert again["ok"], again
        assert again.get("duplicate") and again["index"] == added["index"]

        # The leader's own view of the same command: the same outcome, at the same index.
        on_leader = site.client(leader).checks(check=check)
        assert on_leader["ok"], on_leader
        assert [line["note"] for line in on_leader["check"]["lines"]] == [cid]
    finally:
        node.stop()


def test_a_follower_that_reads_the_leaders_index_after_its_apply_answers_as_the_first(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a busy machine the leader's "proposed at" and the entries come in one batch,
    and the follower applies its command before the submit reads that word: the submit
    must still know the entry for its own, not answer it as a replay."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])
    real_dispatch, real_after_apply = Node._dispatch, Node._after_apply
    held: list[tuple[str, schema.WireMessage]] = []

    def dispatch(self: Node, peer: str, message: schema.WireMessage) -> None:
        if isinstance(message, schema.ForwardReply) and message.ok and message.outcome is None:
            held.append((peer, message))  # read after this node's next apply
            return
        real_dispatch(self, peer, message)

    def after_apply(self: Node, applied: list[Applied]) -> None:
        real_after_apply(self, applied)
        while held:
            real_dispatch(self, *held.pop(0))

    # Only the node embedded in this process is patched; the others are processes.
    monkeypatch.setattr(Node, "_dispatch", dispatch)
    monkeypatch.setattr(Node, "_after_apply", after_apply)
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        answered_as_first(client, leader, rounds=20)
    finally:
        node.stop()


@pytest.mark.parametrize("writer", ["named", "unknown"])
def test_a_follower_that_lost_the_leaders_index_answers_as_the_first(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch, writer: str
) -> None:
    """The leader's "proposed at" lost on the way (a link cut just then): the follower
    applies an entry of its command's id at an index no one named to it. Named by its
    writer, the entry is known for the submit's own at once. With the writer unknown
    (as for an entry written before entries named one), the follower asks; the leader
    names its own proposal for it again, and the submit answers as the first."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])
    real_dispatch = Node._dispatch
    dropped: set[str] = set()
    named_again: set[str] = set()  # the leader's word heard after it was lost: asked for

    def dispatch(self: Node, peer: str, message: schema.WireMessage) -> None:
        if isinstance(message, schema.ForwardReply) and message.ok and message.outcome is None:
            if message.req_id not in dropped:
                dropped.add(message.req_id)  # the first word of each command's index is lost
                return
            named_again.add(message.req_id)
        real_dispatch(self, peer, message)

    if writer == "unknown":

        def decode_unnamed(data: bytes, *, index: int, term: int = 0) -> LedgerEntry:
            return dataclasses.replace(decode_payload(data, index=index, term=term), writer=None)

        # Only this process's node reads its entries without their writer.
        monkeypatch.setattr("mesh.node.replica.decode_payload", decode_unnamed)
    check = first_answers_then_replays(site, here, leader, dispatch, monkeypatch)
    assert len(dropped) == 6, (dropped, check)
    if writer == "unknown":  # asked for each word it lost (a slow forward may also resend)
        assert named_again == dropped, (named_again, dropped)


def test_a_follower_that_hears_no_word_from_the_leader_knows_its_entries_by_their_writer(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every reply of the leader lost on the way: the follower knows its own entry by
    the token of its submit that the entry carries, and answers as the first; a
    replay of the same id through it answers as one, from its apply."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])
    real_dispatch = Node._dispatch
    lost: list[str] = []

    def dispatch(self: Node, peer: str, message: schema.WireMessage) -> None:
        if isinstance(message, schema.ForwardReply):
            lost.append(message.req_id)
            return
        real_dispatch(self, peer, message)

    check = first_answers_then_replays(site, here, leader, dispatch, monkeypatch)
    assert len(lost) >= 6, (lost, check)


def first_answers_then_replays(
    site: Cluster,
    here: str,
    leader: str,
    dispatch: Callable[[Node, str, schema.WireMessage], None],
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """Node ``here``, embedded in this process with ``dispatch`` for its messages (the
    others are processes): five items through it each answered as the first, then
    three acknowledged through another node and replayed through it, each answered as
    a duplicate; the check's ID."""
    monkeypatch.setattr(Node, "_dispatch", dispatch)
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        check = answered_as_first(client, leader, rounds=5)
        other = next(n for n in site.names if n not in (here, leader))
        ack_then_replay(site.client(other), client, check, rounds=3)
        return check
    finally:
        node.stop()


def test_a_follower_that_never_sees_its_command_applied_still_answers(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when the command reaches this node inside a snapshot: no outcome to watch.
    The leader does not reply to a command applied afresh; the follower's retry
    must find the command applied, here or at the leader, within the client's wait."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])
    real_after_apply = Node._after_apply

    def after_apply(self: Node, applied: list[Applied]) -> None:
        real_after_apply(self, [Applied(item.entry, None) for item in applied])

    monkeypatch.setattr(Node, "_after_apply", after_apply)
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        follow(client, leader)
        opened = open_check(client)
        assert opened["ok"], opened
        assert not opened.get("duplicate"), opened
        assert site.client(leader).checks(check=opened["outcome"]["check"])["ok"]
    finally:
        node.stop()


def test_a_replay_through_another_follower_right_after_the_ack_is_a_duplicate(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    """The first follower answers from its own apply, perhaps before the leader or the
    second follower has applied; the replay must still say duplicate, same index."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    site.start()
    leader = site.leader()
    first, second = [n for n in site.names if n != leader]
    check = site.open_check(first)
    ack_then_replay(site.client(first), site.client(second), check, rounds=30)


def test_a_replay_through_a_leader_still_writing_the_first_is_a_duplicate(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The followers apply a commit they hear of before the leader has written the
    Ready that told them (its write is slow, on a worker thread), and a follower
    answers: a replay through the leader then finds the first submit's entry still
    waiting there. It must answer that entry's outcome marked duplicate, not as its own."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        site.start([first])
        deadline = time.monotonic() + 30
        while client.status(with_hash=False)["role"] != "leader":
            assert time.monotonic() < deadline, client.status(with_hash=False)
            if site.status(first)["role"] == "leader":
                site.kill(first, signal.SIGTERM)  # a leader hands over on SIGTERM: to ``here``
                site.start([first])
            time.sleep(0.05)
        site.start([second])
        check = site.open_check(first)

        real_write = Replica.write

        def slow_write(self: Replica, plan: WritePlan) -> None:
            time.sleep(0.2)
            real_write(self, plan)

        # Only this process's node (the leader) is patched.
        monkeypatch.setattr(WritePlacement, "on_loop", lambda self, *, has_snapshot: False)
        monkeypatch.setattr(Replica, "write", slow_write)
        via_first = site.client(first)
        # Other traffic, so the Ready that carries a commit out also has entries to write.
        done = threading.Event()
        other = threading.Thread(target=keep_adding, args=(site.client(second), check, done))
        other.start()
        try:
            ack_then_replay(via_first, client, check, rounds=20)
        finally:
            done.set()
            other.join(30)
    finally:
        node.stop()


def test_a_follower_elected_after_the_leader_proposed_its_command_answers_as_the_first(
    tmp_path: Path, reaper: ProcessReaper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The leader proposes a forwarded command and names its index, then dies before
    committing it; the follower that forwarded it is elected and commits that entry
    itself. The submit, now on the leader's side of its loop, must still know the
    entry for its own (its own proposal of the id is the replay), not answer it as one."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])
    other = second if leader == first else first
    real_forward, real_send = Node._forward, Node._send_raft
    target = add_soda("pending")  # its check is set once the check is open
    hold_acks = threading.Event()
    worded = threading.Event()

    def send_raft(self: Node, messages: list[Message]) -> None:
        if hold_acks.is_set():  # the leader never hears that we stored its entries
            messages = [m for m in messages if m.type is not MessageType.APPEND_RESP]
        real_send(self, messages)

    async def forward(
        self: Node, to: str, command: dict[str, Any], wait: float, fw: Forwarding
    ) -> Any:
        if command["id"] != target["id"] or worded.is_set():
            return await real_forward(self, to, command, wait, fw)
        hold_acks.set()
        await real_forward(self, to, command, 0.0, fw)  # sent; gave up waiting at once
        for _ in range(1000):  # the leader's word of the index, read by no one yet
            said = self._forwards.get(fw.req_id)
            if said is not None and said.done():
                break
            await asyncio.sleep(0.01)
        worded.set()
        for _ in range(3000):
            assert self.replica is not None
            if self.replica.role is Role.LEADER:
                break
            await asyncio.sleep(0.01)
        return None

    # Only the node embedded in this process is patched; the others are processes.
    monkeypatch.setattr(Node, "_send_raft", send_raft)
    monkeypatch.setattr(Node, "_forward", forward)
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        follow(client, leader)
        check = open_check(client)["outcome"]["check"]
        target["check"] = check
        site.kill(other)  # the leader and this node are the quorum now
        replies: list[dict[str, Any]] = []
        sender = threading.Thread(
            target=lambda: replies.append(client.submit(target, timeout=60.0))
        )
        sender.start()
        try:
            assert worded.wait(15), "the leader never named the command's index"
            site.kill(leader)  # before it could commit: it never heard this node stored it
            site.start([other])  # its vote elects this node, the one with the entry
        finally:
            sender.join(90)
        assert len(replies) == 1, replies
        answered = replies[0]
        assert answered["ok"] and not answered.get("duplicate"), answered
        lines = client.checks(check=check)["check"]["lines"]
        assert [line["note"] for line in lines] == [target["id"]], lines
        assert client.status(with_hash=False)["role"] == "leader"
    finally:
        node.stop()


def keep_adding(via: ControlClient, check: str, done: threading.Event) -> None:
    for _ in range(500):
        if done.is_set():
            return
        add = {"type": "add_items", "id": uuid.uuid4().hex, "by": "s-ana", "check": check,
               "items": [{"item": "soda", "qty": 1}]}  # fmt: skip
        with contextlib.suppress(ClientError):
            via.submit(add, timeout=6.0)


def add_soda(check: str) -> dict[str, Any]:
    """An item added to ``check``, with a fresh id that is also the line's note."""
    cid = uuid.uuid4().hex
    return {"type": "add_items", "id": cid, "by": "s-ana", "check": check,
            "items": [{"item": "soda", "qty": 1, "note": cid}]}  # fmt: skip


def answered_as_first(client: LocalClient, leader: str, rounds: int) -> str:
    """Once this follower follows ``leader``: a check opened, then ``rounds`` items added
    through it one by one, each answered as the first submit; the check's ID."""
    follow(client, leader)
    check: str = open_check(client)["outcome"]["check"]
    for n in range(rounds):
        added = client.submit(add_soda(check), timeout=4.0)
        assert added["ok"] and not added.get("duplicate"), (n, added)
    return check


def ack_then_replay(
    via: ControlClient | LocalClient, then: ControlClient | LocalClient, check: str, rounds: int
) -> None:
    """Each round: a command acknowledged through ``via``, then replayed through ``then``
    right away; the replay must answer the first outcome, marked duplicate."""
    for n in range(rounds):
        add = add_soda(check)
        acked = via.submit(add, timeout=6.0)
        assert acked["ok"] and not acked.get("duplicate"), (n, acked)
        replayed = then.submit(add, timeout=6.0)
        assert replayed["ok"] and replayed.get("duplicate"), (n, acked, replayed)
        assert replayed["index"] == acked["index"], (n, acked, replayed)


def test_two_submits_of_one_id_at_once_through_a_follower_answer_one_duplicate(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    """A terminal's retry can reach its node while the first submit is still on its way
    (the same id, the same follower): applied once, and only the first is answered as
    the first; the other gets the same outcome marked duplicate."""
    site = Cluster(tmp_path / "s", reaper, nodes=3)
    first, second, here = site.names
    site.start([first, second])
    leader = site.leader(among=[first, second])
    node = EmbeddedNode(site.data(here))
    client = node.start()
    try:
        follow(client, leader)
        check = open_check(client)["outcome"]["check"]
        for n in range(20):
            replies = submit_at_once(client, add_soda(check), 2)
            assert len(replies) == 2 and all(r["ok"] for r in replies), (n, replies)
            assert replies[0]["index"] == replies[1]["index"], (n, replies)
            assert sorted(bool(r.get("duplicate")) for r in replies) == [False, True], (n, replies)
        lines = site.client(leader).checks(check=check)["check"]["lines"]
        assert len(lines) == 20, lines
    finally:
        node.stop()


def submit_at_once(
    client: LocalClient, command: dict[str, Any], times: int
) -> list[dict[str, Any]]:
    """``command`` submitted ``times`` times at the same moment, from threads of its own."""
    start = threading.Barrier(times)
    replies: list[dict[str, Any]] = []

    def send() -> None:
        start.wait(10)
        replies.append(client.submit(command, timeout=6.0))

    senders = [threading.Thread(target=send) for _ in range(times)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(30)
    return replies
