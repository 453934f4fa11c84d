"""One test per rule of the Raft paper (Ongaro & Ousterhout, 2014), section by section.

Each test drives a bare ``Raft`` core by hand (no network): messages in with
``step``, messages out from ``take``. Pre-vote and check-quorum are off here unless
a test says otherwise, so the rules read exactly as in the paper. Nodes are
bootstrapped with 3 committed configuration entries (indices 1-3, term 1).
"""

from __future__ import annotations

import pytest

from mesh.raft import Entry, HardState, MessageType, NotLeader, Role
from mesh.raft.raft import Raft
from tests.raft.raft_harness import msg, new_raft, storage_with, take

P3 = ("a", "b", "c")
P5 = ("a", "b", "c", "d", "e")
BOOT = 3  # last index after bootstrap with 3 voters


def make_leader(r: Raft) -> None:
    r.become_candidate()
    r.become_leader()
    take(r)


# -- 5.1 basics -----------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.FOLLOWER, Role.CANDIDATE, Role.LEADER])
def test_5_1_higher_term_updates_term_and_reverts_to_follower(role: Role) -> None:
    """ "If one server's current term is smaller than the other's, it updates its current
    term to the larger value. If a candidate or leader discovers that its term is out of
    date, it immediately reverts to follower state."""
    r = new_raft("a", P3)
    if role is Role.CANDIDATE:
        r.become_candidate()
    elif role is Role.LEADER:
        make_leader(r)
    r.step(msg(MessageType.APPEND, "b", "a", term=9, index=0, log_term=0))
    assert r.term == 9
    assert r.role is Role.FOLLOWER
    assert r.lead == "b"


def test_5_1_stale_term_request_is_rejected() -> None:
    """ "If a server receives a request with a stale term number, it rejects the request."""
    r = new_raft("a", P3)
    r.become_follower(5, None)
    r.step(msg(MessageType.VOTE, "b", "a", term=3, index=99, log_term=4))
    r.step(msg(MessageType.APPEND, "b", "a", term=3, index=BOOT, log_term=1))
    assert r.vote is None
    assert all(m.type is not MessageType.VOTE_RESP or m.reject for m in take(r))
    assert r.log.last_index() == BOOT


# -- 5.2 leader election --------------------------------------------------------


def test_5_2_servers_start_as_followers() -> None:
    assert new_raft("a", P3).role is Role.FOLLOWER


def test_5_2_leader_sends_heartbeats_every_heartbeat_tick() -> None:
    r = new_raft("a", P3, heartbeat_tick=1)
    make_leader(r)
    r.tick()
    beats = [m for m in take(r) if m.type is MessageType.HEARTBEAT]
    assert sorted(m.to for m in beats) == ["b", "c"]
    assert all(m.term == r.term for m in beats)


@pytest.mark.parametrize("as_candidate", [False, True])
def test_5_2_election_timeout_starts_election(as_candidate: bool) -> None:
    """On timeout a follower (or a candidate, again) increments its term, votes for
    itself and sends RequestVote to every other server."""
    r = new_raft("a", P3)
    if as_candidate:
        r.become_candidate()
        take(r)
    before = r.term
    for _ in range(2 * r.cfg.election_tick):
        r.tick()
    assert r.role is Role.CANDIDATE
    assert r.term == before + 1
    assert r.vote == "a"
    votes = [m for m in take(r) if m.type is MessageType.VOTE]
    assert sorted(m.to for m in votes) == ["b", "c"]
    assert all(m.term == r.term and m.index == BOOT and m.log_term == 1 for m in votes)


@pytest.mark.parametrize(
    ("size", "granted", "rejected", "expected"),
    [
        (3, {"b"}, set(), Role.LEADER),
        (3, set(), {"b", "c"}, Role.FOLLOWER),
        (5, {"b", "c"}, set(), Role.LEADER),
        (5, {"b"}, set(), Role.CANDIDATE),
        (5, set(), {"b", "c", "d"}, Role.FOLLOWER),
        (5, {"b"}, {"c"}, Role.CANDIDATE),
    ],
)
def test_5_2_candidate_wins_with_a_majority_and_loses_without(
    size: int, granted: set[str], rejected: set[str], expected: Role
) -> None:
    peers = P5[:size]
    r = new_raft("a", peers)
    r.hup()
    take(r)
    for p in sorted(granted):
        r.step(msg(MessageType.VOTE_RESP, p, "a", term=r.term))
    for p in sorted(rejected):
        r.step(msg(MessageType.VOTE_RESP, p, "a", term=r.term, reject=True))
    assert r.role is expected


@pytest.mark.parametrize(
    ("vote", "candidate", "grant"),
    [(None, "b", True), ("b", "b", True), ("c", "b", False)],
)
def test_5_2_follower_votes_at_most_once_per_term(
    vote: str | None, candidate: str, grant: bool
) -> None:
    s = storage_with(P3, [], HardState(term=2, vote=vote, commit=BOOT))
    r = new_raft("a", P3, storage=s)
    r.step(msg(MessageType.VOTE, candidate, "a", term=2, index=BOOT, log_term=1))
    (resp,) = take(r)
    assert resp.type is MessageType.VOTE_RESP
    assert resp.reject is not grant


def test_5_2_candidate_falls_back_when_a_leader_of_its_term_appears() -> None:
    r = new_raft("a", P3)
    r.hup()
    take(r)
    r.step(msg(MessageType.APPEND, "b", "a", term=r.term, index=BOOT, log_term=1))
    assert r.role is Role.FOLLOWER
    assert r.lead == "b"


def test_5_2_election_timeouts_are_randomised_within_one_to_two_timeouts() -> None:
    seen = set()
    for seed in range(50):
        r = new_raft("a", P3, seed=seed)
        r.become_follower(r.term + 1, None)
        seen.add(r.randomized_election_timeout)
    assert min(seen) >= 10 and max(seen) < 20
    assert len(seen) > 5


# -- 5.3 log replication --------------------------------------------------------


def test_5_3_leader_appends_then_replicates() -> None:
    r = new_raft("a", P3)
    make_leader(r)
    # followers are probed first: acknowledge the empty entry to reach REPLICATE
    for p in ("b", "c"):
        r.step(msg(MessageType.APPEND_RESP, p, "a", term=r.term, index=r.log.last_index()))
    take(r)
    r.propose([b"x"])
    assert r.log.last_index() == BOOT + 2
    apps = [m for m in take(r) if m.type is MessageType.APPEND]
    assert sorted(m.to for m in apps) == ["b", "c"]
    for m in apps:
        assert [e.data for e in m.entries] == [b"x"]
        assert (m.index, m.log_term, m.commit) == (BOOT + 1, r.term, BOOT + 1)


def test_5_3_entry_commits_once_a_majority_stores_it_and_commits_predecessors() -> None:
    r = new_raft("a", P5)
    make_leader(r)
    before = r.log.committed
    r.propose([b"x", b"y"])
    last = r.log.last_index()
    r.step(msg(MessageType.APPEND_RESP, "b", "a", term=r.term, index=last))
    assert r.log.committed == before  # 2 of 5
    r.step(msg(MessageType.APPEND_RESP, "c", "a", term=r.term, index=last))
    assert r.log.committed == last  # 3 of 5: the empty entry and both commands commit


def test_5_3_follower_learns_commit_from_leader() -> None:
    r = new_raft("b", P3)
    ents = (Entry(term=2, index=BOOT + 1, data=b"x"), Entry(term=2, index=BOOT + 2, data=b"y"))
    r.step(
        msg(
            MessageType.APPEND,
            "a",
            "b",
            term=2,
            index=BOOT,
            log_term=1,
            entries=ents,
            commit=BOOT + 1,
        )
    )
    assert r.log.committed == BOOT + 1
    assert [e.data for e in r.log.next_committed_entries()][-1] == b"x"


@pytest.mark.parametrize(
    ("index", "log_term", "accept"),
    [
        (BOOT, 1, True),
        (BOOT + 1, 2, True),
        (BOOT + 1, 3, False),
        (BOOT + 2, 2, False),
        (BOOT - 1, 1, True),
    ],
)
def test_5_3_follower_consistency_check(index: int, log_term: int, accept: bool) -> None:
    """The follower refuses entries unless it holds the entry just before them with that term."""
    s = storage_with(P3, [2], HardState(term=2, commit=BOOT))
    r = new_raft("b", P3, storage=s)
    r.step(msg(MessageType.APPEND, "a", "b", term=2, index=index, log_term=log_term, commit=BOOT))
    (resp,) = take(r)
    assert resp.type is MessageType.APPEND_RESP
    assert resp.reject is not accept


def test_5_3_follower_deletes_conflicting_entries_and_appends_new_ones() -> None:
    s = storage_with(P3, [2, 2, 2], HardState(term=3, commit=BOOT))
    r = new_raft("b", P3, storage=s)
    ents = (Entry(term=3, index=BOOT + 2, data=b"new"),)
    r.step(msg(MessageType.APPEND, "a", "b", term=3, index=BOOT + 1, log_term=2, entries=ents))
    assert r.log.last_index() == BOOT + 2
    assert r.log.term(BOOT + 2) == 3


def test_5_3_rejection_skips_a_whole_term() -> None:
    """A follower whose tail is many entries of a stale term is repaired in one round trip."""
    s = storage_with(P3, [2] + [3] * 20, HardState(term=3, commit=BOOT))
    follower = new_raft("b", P3, storage=s)
    follower.step(msg(MessageType.APPEND, "a", "b", term=5, index=BOOT + 30, log_term=5))
    (resp,) = take(follower)
    assert resp.reject
    # Hint: where the follower's log has a term <= the leader's probe term
    assert (resp.reject_hint, resp.log_term) == (BOOT + 21, 3)


def test_5_3_leader_brings_divergent_follower_logs_into_consistency() -> None:
    """Figure 7: whatever the follower holds, the leader overwrites it with its own log."""
    from tests.raft.raft_harness import Cluster

    c = Cluster(["a", "b", "c"], pre_vote=False, check_quorum=False)
    c.elect("a")
    c.isolate("c")
    c.nodes["a"].propose(b"only-a-and-b")
    c.settle()
    c.heal()
    c.crash("a")  # a and b hold the committed entry; c does not
    c.tick(40, only=["b", "c"])
    lead = c.leader()
    assert lead == "b"  # c lacks the committed entry, so only b can win (5.4.1)
    c.start("a")
    c.nodes[lead].propose(b"after")
    c.tick(5)
    logs = {n: c.storages[n].entries(1, c.storages[n].last_index() + 1) for n in c.nodes}
    assert logs["a"] == logs["b"] == logs["c"]


# -- 5.4 safety --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cand_index", "cand_term", "grant"),
    [
        (BOOT + 2, 2, True),  # same last term, same length
        (BOOT + 3, 2, True),  # same last term, longer
        (BOOT + 1, 2, False),  # same last term, shorter
        (BOOT + 1, 3, True),  # higher last term wins even if shorter
        (BOOT + 5, 1, False),  # lower last term loses even if longer
    ],
)
def test_5_4_1_vote_only_for_an_up_to_date_log(
    cand_index: int, cand_term: int, grant: bool
) -> None:
    s = storage_with(P3, [2, 2], HardState(term=2, commit=BOOT))
    r = new_raft("a", P3, storage=s)
    r.step(msg(MessageType.VOTE, "b", "a", term=4, index=cand_index, log_term=cand_term))
    (resp,) = take(r)
    assert resp.reject is not grant


def test_5_4_2_leader_counts_replicas_only_for_entries_of_its_term() -> None:
    """Figure 8: an entry from an earlier term on a majority is not committed by counting."""
    s = storage_with(P3, [2], HardState(term=3, commit=BOOT))
    r = new_raft("a", P3, storage=s)
    r.become_candidate()  # term 4
    r.become_leader()  # appends the empty entry at BOOT + 2, term 4
    take(r)
    r.step(msg(MessageType.APPEND_RESP, "b", "a", term=r.term, index=BOOT + 1))
    assert r.progress["b"].match == BOOT + 1
    assert r.log.committed == BOOT, "the term-2 entry must not be committed by counting"
    r.step(msg(MessageType.APPEND_RESP, "b", "a", term=r.term, index=BOOT + 2))
    assert r.log.committed == BOOT + 2, "committing the term-4 entry commits the term-2 one"


def test_proposing_on_a_follower_names_the_leader() -> None:
    r = new_raft("b", P3)
    r.step(msg(MessageType.HEARTBEAT, "a", "b", term=2))
    with pytest.raises(NotLeader) as info:
        r.propose([b"x"])
    assert info.value.leader_id == "a"
