"""News of a commit index alone is not answered, unless the follower cannot take it.

After a quorum has an entry, the leader tells every follower the new commit index
in an APPEND with no entries. A follower in REPLICATE cannot move its ``match`` by
accepting one, so answering it would only cost the leader a message per follower
per commit; a follower that cannot accept it (it missed the entries before) must
still say so, or it would never be repaired.
"""

from __future__ import annotations

from mesh.raft import Message, MessageType
from mesh.raft.raft import COMMIT_ONLY
from tests.raft.raft_harness import Cluster

P3 = ["a", "b", "c"]


def appends_to(c: Cluster, nid: str) -> list[Message]:
    return [m for m in c.sent if m.type is MessageType.APPEND and m.to == nid]


def answers_from(c: Cluster, nid: str) -> list[Message]:
    return [m for m in c.sent if m.type is MessageType.APPEND_RESP and m.frm == nid]


def test_commit_news_reaches_every_follower_and_is_not_answered() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.sent.clear()
    index = c.nodes["a"].propose(b"X")
    c.settle()
    for follower in ("b", "c"):
        sent = appends_to(c, follower)
        news = [m for m in sent if not m.entries]
        assert [m.context for m in news] == [COMMIT_ONLY], sent
        assert news[0].commit >= index
        # One answer: for the entry, none for the news.
        assert [m.index for m in answers_from(c, follower)] == [index]
        assert c.applied_data(follower)[-1] == b"X"


def test_a_follower_that_missed_the_entries_answers_the_news_and_is_repaired() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.sent.clear()
    dropped: list[Message] = []

    def lose_first_entries_to_c(m: Message) -> bool:
        if not dropped and m.to == "c" and m.type is MessageType.APPEND and m.entries:
            dropped.append(m)
            return True
        return False

    index = c.nodes["a"].propose(b"X")
    c.settle(drop=lose_first_entries_to_c)
    assert dropped
    rejects = [m for m in answers_from(c, "c") if m.reject]
    assert rejects, "c never said it could not take the news"
    assert c.storages["c"].last_index() >= index
    assert c.applied_data("c")[-1] == b"X"


def test_an_append_that_probes_is_never_marked_as_news() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.nodes["a"].propose(b"X")
    c.settle()
    leader = c.nodes["a"].raft
    leader.progress["c"].become_probe()  # as after c rejected an append
    c.sent.clear()
    c.nodes["a"].raft.msgs.clear()
    leader._send_append("c")
    probe = leader.msgs[-1]
    assert probe.type is MessageType.APPEND and not probe.entries
    assert probe.context != COMMIT_ONLY
    c.settle()
    assert answers_from(c, "c"), "a probe went unanswered"


def test_lost_answers_are_asked_again_when_nothing_new_is_proposed() -> None:
    """Every answer to an entry lost, and nothing proposed after it: the leader's
    heartbeats find those followers behind and send them an append they must answer
    (a leader that cannot propose, such as one whose own removal is that entry, would
    otherwise wait for the commit for ever; found by the simulator, seed 5220)."""
    c = Cluster(P3)
    c.elect("a")
    index = c.nodes["a"].propose(b"X")
    c.settle(drop=lambda m: m.type is MessageType.APPEND_RESP)
    leader = c.nodes["a"].raft
    assert c.storages["b"].last_index() >= index and c.storages["c"].last_index() >= index
    assert leader.log.committed < index  # the answers were lost
    for _ in range(4 * leader.cfg.heartbeat_tick):
        c.tick()
        c.settle()
    assert leader.log.committed >= index
    assert c.applied_data("b")[-1] == c.applied_data("c")[-1] == b"X"
