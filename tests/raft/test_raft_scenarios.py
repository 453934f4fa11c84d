"""Scripted scenarios: whole clusters through the situations a restaurant will meet.

Each test tells a story step by step on ``Cluster`` (tests/raft/raft_harness.py):
the test decides who is cut off, who crashes and how much time passes.
"""

from __future__ import annotations

import pytest

from mesh.raft import (
    ConfChange,
    ConfChangePending,
    ConfChangeTooEarly,
    ConfChangeType,
    Entry,
    InvalidConfChange,
    InvalidTransfer,
    LeadershipTransferring,
    Message,
    MessageType,
    NotLeader,
    ProgressState,
    Role,
)
from tests.raft.raft_harness import Cluster

P3 = ["a", "b", "c"]
P5 = ["a", "b", "c", "d", "e"]


def log_of(c: Cluster, nid: str) -> list[Entry]:
    s = c.storages[nid]
    return s.entries(s.first_index(), s.last_index() + 1)


def test_figure_8_old_term_entry_on_a_majority_is_not_committed_and_may_be_overwritten() -> None:
    c = Cluster(P5, pre_vote=False, check_quorum=False, max_size_per_msg=1)
    # (a) a leads in term 2 and gets X only onto b.
    c.elect("a")
    c.partition(["a", "b"], ["c", "d", "e"])
    x_index = c.nodes["a"].propose(b"X")
    c.settle()
    # (b) a crashes; e wins term 3 with c and d, appends its own entry at X's index, and
    # crashes before sending it anywhere.
    c.crash("a")
    c.nodes["e"].campaign()
    c.settle(drop=lambda m: m.frm == "e" and m.type is MessageType.APPEND)
    assert c.role("e") is Role.LEADER
    assert c.storages["e"].term(x_index) == 3
    c.crash("e")
    c.network.clear()
    # (c) a restarts and wins term 4 with b and c; X reaches c (a majority: a, b, c)
    # but a's own term-4 entry is lost on the way.
    c.heal()
    c.start("a")

    def lose_new_entry(m: Message) -> bool:
        # c and d get X (one entry per message) but never a's term-4 entry after it.
        has_x = c.storages[m.to].last_index() >= x_index
        return m.to in ("c", "d") and has_x and any(e.term == 4 for e in m.entries)

    for _ in range(3):  # the first try meets votes already given in term 3
        c.nodes["a"].campaign()
        c.settle(drop=lose_new_entry)
        if c.role("a") is Role.LEADER:
            break
    assert c.role("a") is Role.LEADER
    assert c.nodes["a"].status().term == 4
    assert all(c.storages[n].term(x_index) == 2 for n in ("a", "b", "c", "d"))
    assert c.nodes["a"].status().commit < x_index, "figure 8: X must not be committed by counting"
    # (d) a crashes; e comes back and wins term 5 (its last term 3 beats X's term 2),
    # overwriting X everywhere. Nothing applied X, so nothing is lost.
    c.crash("a")
    c.start("e")
    for _ in range(3):  # term 4 is taken (c and d voted for a); term 5 works
        c.nodes["e"].campaign()
        c.settle()
        if c.role("e") is Role.LEADER:
            break
    assert c.leader() == "e"  # b refuses (its last term is 4); c and d accept
    for n in ("b", "c", "d", "e"):
        assert c.storages[n].term(x_index) == 3
        assert b"X" not in c.applied_data(n)


def test_figure_8_fixed_by_committing_the_leaders_own_entry() -> None:
    """(e) once the new leader's term-4 entry reaches a majority, X commits with it."""
    c = Cluster(P5, pre_vote=False, check_quorum=False, max_size_per_msg=1)
    c.elect("a")
    c.partition(["a", "b"], ["c", "d", "e"])
    x_index = c.nodes["a"].propose(b"X")
    c.settle()
    c.crash("a")
    c.heal()
    c.start("a")
    c.tick(1)
    c.elect("a")
    assert c.nodes["a"].status().commit > x_index
    c.tick(2)
    assert all(b"X" in c.applied_data(n) for n in c.nodes)


def test_prevote_keeps_a_partitioned_node_from_inflating_terms() -> None:
    c = Cluster(P3)
    c.elect("a")
    term = c.nodes["a"].status().term
    c.isolate("c")
    c.tick(100)
    assert c.nodes["c"].status().term == term  # pre-votes never raise its term
    assert c.role("c") in (Role.FOLLOWER, Role.PRE_CANDIDATE)
    c.heal()
    c.tick(5)
    assert c.leader() == "a"
    assert all(c.nodes[n].status().term == term for n in P3)


def test_lease_ignores_a_disruptive_prevote_while_the_leader_is_healthy() -> None:
    """c stops hearing the leader (one-way cut) and campaigns; b, in touch with a, ignores it."""
    c = Cluster(P3)
    c.elect("a")
    term = c.nodes["a"].status().term
    c.cut = {("a", "c")}
    c.tick(40)
    assert c.leader() == "a"
    assert c.nodes["a"].status().term == term
    pre_votes = [m for m in c.sent if m.frm == "c" and m.type is MessageType.PRE_VOTE]
    assert pre_votes, "c did try"
    assert not any(
        m.type is MessageType.PRE_VOTE_RESP and m.to == "c" and not m.reject for m in c.sent
    )


def test_check_quorum_makes_an_isolated_leader_step_down() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.isolate("a")
    c.tick(20, only=["a"])
    assert c.role("a") is Role.FOLLOWER
    with pytest.raises(NotLeader):
        c.nodes["a"].propose(b"x")


def test_partitioned_old_leader_loses_uncommitted_writes_and_steps_down() -> None:
    c = Cluster(P5)
    c.elect("a")
    c.partition(["a", "b"], ["c", "d", "e"])
    c.nodes["a"].propose(b"stale")
    c.tick(40)  # the majority elects someone; a steps down by check-quorum
    new = c.leader()
    assert new in ("c", "d", "e")
    c.nodes[new].propose(b"fresh")
    c.settle()
    c.heal()
    c.tick(5)
    assert c.leader() == new
    for n in P5:
        data = c.applied_data(n)
        assert b"fresh" in data
        assert b"stale" not in data


def test_learner_catches_up_from_a_snapshot_and_never_votes() -> None:
    c = Cluster(P3)
    c.elect("a")
    for i in range(20):
        c.nodes["a"].propose(f"cmd{i}".encode())
    c.settle()
    for n in P3:  # every node compacts its log
        node = c.nodes[n]
        applied = node.status().applied
        c.storages[n].compact(node.snapshot_at(applied, b"state@%d" % applied))
    c.nodes["a"].propose_conf_change(ConfChange(type=ConfChangeType.ADD_LEARNER, node_id="d"))
    c.add_node("d")
    c.settle()
    c.tick(3)
    assert c.snapshot_loaded["d"] > 0, "the learner started from a snapshot"
    assert c.nodes["d"].status().conf.learners == frozenset({"d"})
    c.nodes["a"].propose(b"after-join")
    c.tick(2)
    assert c.applied_data("d")[-1] == b"after-join"
    assert c.nodes["a"].status().progress["d"].learner
    # A learner never campaigns, however long it waits.
    c.isolate("d")
    c.tick(60, only=["d"])
    assert not any(
        m.frm == "d" and m.type in (MessageType.VOTE, MessageType.PRE_VOTE) for m in c.sent
    )
    c.heal()
    c.tick(2)
    c.nodes["a"].propose_conf_change(ConfChange(type=ConfChangeType.PROMOTE, node_id="d"))
    c.tick(2)
    assert "d" in c.nodes["a"].status().conf.voters


def test_removing_the_leader_hands_over_and_the_removed_node_cannot_disrupt() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.tick(1)
    c.nodes["a"].propose_conf_change(ConfChange(type=ConfChangeType.REMOVE, node_id="a"))
    c.settle()
    assert c.role("a") is Role.FOLLOWER  # stepped down once its removal committed
    c.tick(40)
    new = c.leader()
    assert new in ("b", "c")
    term = c.nodes[new].status().term
    c.tick(100)  # a keeps running: it must not disturb b and c
    assert c.leader() == new
    assert c.nodes[new].status().term == term
    assert c.nodes[new].status().conf.voters == frozenset({"b", "c"})


def test_transfer_to_a_lagging_node_catches_it_up_first() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.isolate("c")
    for i in range(10):
        c.nodes["a"].propose(f"cmd{i}".encode())
    c.settle()
    c.heal()
    c.nodes["a"].transfer_leadership("c")
    with pytest.raises(LeadershipTransferring):
        c.nodes["a"].propose(b"during")
    c.settle()
    assert c.leader() == "c"
    c.tick(2)
    assert b"cmd9" in c.applied_data("c")
    assert c.role("a") is Role.FOLLOWER


def test_transfer_errors() -> None:
    c = Cluster(P3)
    c.elect("a")
    with pytest.raises(InvalidTransfer):
        c.nodes["a"].transfer_leadership("zz")
    with pytest.raises(NotLeader):
        c.nodes["b"].transfer_leadership("c")


def test_one_conf_change_at_a_time_and_not_before_the_first_commit() -> None:
    c = Cluster(P3)
    c.nodes["a"].campaign()
    c.settle(drop=lambda m: m.type is MessageType.APPEND)  # a wins; its first entry is lost
    assert c.role("a") is Role.LEADER
    add_d = ConfChange(type=ConfChangeType.ADD_LEARNER, node_id="d")
    with pytest.raises(ConfChangeTooEarly):
        c.nodes["a"].propose_conf_change(add_d)
    c.tick(1)  # the heartbeat reply makes a resend its first entry, which commits
    index = c.nodes["a"].propose_conf_change(add_d)
    with pytest.raises(ConfChangePending) as info:
        c.nodes["a"].propose_conf_change(ConfChange(type=ConfChangeType.ADD_LEARNER, node_id="e"))
    assert info.value.pending_index == index
    # the configuration is in force as soon as the entry is appended, committed or not
    assert "d" in c.nodes["a"].status().conf.learners
    c.settle()
    with pytest.raises(InvalidConfChange):
        c.nodes["a"].propose_conf_change(ConfChange(type=ConfChangeType.PROMOTE, node_id="b"))


def test_config_reverts_when_its_uncommitted_entry_is_overwritten() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.tick(1)
    c.isolate("a")
    c.nodes["a"].propose_conf_change(ConfChange(type=ConfChangeType.ADD_LEARNER, node_id="d"))
    assert "d" in c.nodes["a"].status().conf.learners
    c.tick(40)
    assert c.leader() in ("b", "c")
    c.heal()
    c.tick(5)
    assert c.nodes["a"].status().conf.learners == frozenset()


def test_pipelining_is_bounded_and_probing_sends_one_append() -> None:
    c = Cluster(P3, max_inflight=2)
    c.elect("a")
    c.tick(1)
    assert c.nodes["a"].status().progress["b"].state is ProgressState.REPLICATE
    c.sent.clear()
    for i in range(6):
        c.nodes["a"].propose(f"cmd{i}".encode())
    c.process("a")
    to_b = [m for m in c.sent if m.to == "b" and m.type is MessageType.APPEND]
    assert len(to_b) == 2  # the window is full; the rest waits for acknowledgements
    c.settle()
    assert all(len(c.applied_data(n)) == 6 for n in P3)


def test_batch_proposal_travels_in_one_append_per_follower() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.tick(1)
    c.sent.clear()
    indices = c.nodes["a"].propose_batch([f"cmd{i}".encode() for i in range(100)])
    assert len(indices) == 100
    c.process("a")
    appends = [m for m in c.sent if m.type is MessageType.APPEND]
    assert sorted(m.to for m in appends) == ["b", "c"]
    assert all(len(m.entries) == 100 for m in appends)


def test_vote_survives_a_crash() -> None:
    c = Cluster(P3, pre_vote=False, check_quorum=False)
    c.nodes["b"].campaign()
    c.process("b")
    c.deliver_all(drop=lambda m: m.to != "a")
    c.process("a")  # a persisted its vote for b
    vote_term = c.storages["a"].hard_state.term
    assert c.storages["a"].hard_state.vote == "b"
    c.crash("a")
    c.start("a")
    c.network.clear()
    c.nodes["a"].step(
        Message(type=MessageType.VOTE, frm="c", to="a", term=vote_term, index=99, log_term=9)
    )
    c.process("a")
    (resp,) = [m for m in c.network if m.type is MessageType.VOTE_RESP]
    assert resp.reject


def test_vote_reply_travels_with_the_hard_state_that_records_it() -> None:
    c = Cluster(P3, pre_vote=False, check_quorum=False)
    c.nodes["b"].campaign()
    c.process("b")
    c.deliver_all()
    rd = c.nodes["a"].ready()
    assert rd.hard_state is not None and rd.hard_state.vote == "b"
    assert any(m.type is MessageType.VOTE_RESP and not m.reject for m in rd.messages)


def test_status_and_soft_state_for_ctl() -> None:
    c = Cluster(P3)
    c.elect("a")
    c.tick(1)
    st = c.nodes["a"].status()
    assert (st.role, st.leader, st.commit, st.applied) == (
        Role.LEADER,
        "a",
        st.last_index,
        st.last_index,
    )
    assert set(st.progress) == {"a", "b", "c"}
    assert st.progress["b"].match == st.last_index
    assert st.progress["b"].state is ProgressState.REPLICATE
    follower = c.nodes["b"].status()
    assert follower.leader == "a" and follower.progress == {}
    c.isolate("a")
    c.tick(20, only=["a"])
    rd_soft = c.nodes["a"].soft_state()
    assert rd_soft.role is Role.FOLLOWER and rd_soft.leader is None
