"""A voter whose store was lost (corrupt, moved aside) rejoins without harming anyone.

The node layer starts such a voter with ``Config(lost_state=True)`` and bootstrap
entries only. Without that flag the leader, which remembers what the follower used
to hold, would keep it waiting forever (its rejections look stale) or trip the
follower's "commit beyond last index" invariant.
"""

from __future__ import annotations

from mesh.raft import Message, MessageType, Role
from mesh.raft.raft import LOST_STATE
from tests.raft.raft_harness import Cluster

P3 = ["a", "b", "c"]


def _grow(c: Cluster, leader: str, n: int, tag: str = "cmd") -> None:
    for k in range(n):
        c.nodes[leader].propose(f"{tag}{k}".encode())
        c.settle()


def test_a_voter_that_lost_its_store_is_caught_up_and_becomes_whole_again() -> None:
    c = Cluster(P3)
    c.elect("a")
    _grow(c, "a", 20)
    before = c.applied_data("b")
    assert len(before) == 20
    c.lose_disk("b", P3)
    assert c.nodes["b"].status().role is Role.FOLLOWER
    c.tick(3)  # heartbeats reveal the loss; the leader probes from b's real end
    assert any(m.type is MessageType.APPEND_RESP and m.context == LOST_STATE for m in c.sent)
    assert c.applied_data("b") == before
    assert not c.nodes["b"].raft.recovering
    _grow(c, "a", 1, tag="after")
    assert c.applied_data("b") == [*before, b"after0"]


def test_a_recovering_voter_abstains_from_votes_and_never_campaigns() -> None:
    c = Cluster(P3)
    c.elect("a")
    _grow(c, "a", 3)
    c.lose_disk("b", P3)
    c.isolate("b")  # no leader reaches it: it stays in recovery
    raft = c.nodes["b"].raft
    c.tick(100, only=["b"])
    assert raft.role is Role.FOLLOWER and raft.term == c.storages["b"].hard_state.term
    raft.step(Message(type=MessageType.VOTE, frm="c", to="b", term=50, index=999, log_term=49))
    c.process("b")
    (resp,) = [m for m in c.network if m.type is MessageType.VOTE_RESP and m.frm == "b"]
    assert resp.reject


def test_the_other_two_voters_keep_committing_while_one_recovers() -> None:
    c = Cluster(P3)
    c.elect("a")
    _grow(c, "a", 5)
    c.lose_disk("c", P3)
    c.isolate("c")
    _grow(c, "a", 5)  # a and b are a quorum without c
    assert len(c.applied_data("b")) == 10
    c.heal()
    c.tick(3)
    assert len(c.applied_data("c")) == 10 and not c.nodes["c"].raft.recovering
