"""Property tests (hypothesis): encodings round-trip, storage keeps its contract,
and any small randomly chosen history of the simulator stays safe."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh.raft import (
    CompactedError,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    InvalidConfChange,
    MemoryStorage,
    Snapshot,
    SnapshotMeta,
    UnavailableError,
)
from mesh.raft.confchange import apply_conf_change, check_conf_change
from mesh.raft.log import RaftLog
from mesh.raft.sim import SeedFailure, run_seed

node_ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@given(st.sampled_from(list(ConfChangeType)), node_ids)
def test_conf_change_round_trips(kind: ConfChangeType, nid: str) -> None:
    cc = ConfChange(type=kind, node_id=nid)
    assert ConfChange.decode(cc.encode()) == cc


@given(st.binary(max_size=40))
def test_conf_change_decode_rejects_garbage_cleanly(data: bytes) -> None:
    with contextlib.suppress(InvalidConfChange):
        ConfChange.decode(data)


@given(
    st.frozensets(node_ids, min_size=1, max_size=5),
    st.frozensets(node_ids, max_size=3),
    st.sampled_from(list(ConfChangeType)),
    node_ids,
)
def test_conf_changes_move_one_node_at_a_time(
    voters: frozenset[str], learners: frozenset[str], kind: ConfChangeType, nid: str
) -> None:
    conf = ConfState(voters=voters, learners=learners - voters)
    cc = ConfChange(type=kind, node_id=nid)
    after = apply_conf_change(conf, cc)
    try:
        check_conf_change(conf, cc)
    except InvalidConfChange:
        assert after == conf
        return
    assert len(after.voters ^ conf.voters) <= 1  # single-server change
    assert after.voters  # never empty
    assert not after.voters & after.learners


@st.composite
def logs(draw: st.DrawFn) -> list[int]:
    """Non-decreasing terms, one per index from 1."""
    steps = draw(st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=40))
    terms, t = [], 1
    for s in steps:
        t += s
        terms.append(t)
    return terms


@given(logs(), st.integers(min_value=0, max_value=45), st.integers(min_value=0, max_value=10))
def test_find_conflict_by_term_returns_the_last_index_with_term_at_most(
    terms: list[int], index: int, term: int
) -> None:
    s = MemoryStorage()
    s.append([Entry(term=t, index=i) for i, t in enumerate(terms, start=1)])
    log = RaftLog(s)
    index = min(index, len(terms))
    got_index, got_term = log.find_conflict_by_term(index, term)
    assert got_index <= index
    assert got_term == (terms[got_index - 1] if got_index else 0)
    assert got_term <= term or got_index == 0
    # nothing between got_index and index has a term <= term
    assert all(t > term for t in terms[got_index:index])


@given(logs(), st.data())
def test_memory_storage_contract(terms: list[int], data: st.DataObject) -> None:
    s = MemoryStorage()
    ents = [Entry(term=t, index=i, data=b"x" * (i % 7)) for i, t in enumerate(terms, start=1)]
    s.append(ents)
    assert (s.first_index(), s.last_index()) == (1, len(ents))
    cut = data.draw(st.integers(min_value=1, max_value=len(ents)))
    s.compact(Snapshot(meta=SnapshotMeta(index=cut, term=terms[cut - 1], conf=ConfState())))
    assert s.first_index() == cut + 1
    assert s.term(cut) == terms[cut - 1]
    with pytest.raises(CompactedError):
        s.entries(cut, len(ents) + 1)
    with pytest.raises(UnavailableError):
        s.term(len(ents) + 1)
    assert s.entries(cut + 1, len(ents) + 1) == ents[cut:]
    if cut < len(ents):
        assert len(s.entries(cut + 1, len(ents) + 1, max_bytes=1)) == 1  # at least one
    # appending over the tail truncates what followed
    if cut < len(ents):
        s.append([Entry(term=99, index=cut + 1)])
        assert s.last_index() == cut + 1 and s.term(cut + 1) == 99


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=0, max_value=2**32),
    st.sampled_from([3, 5, 7]),
    st.integers(min_value=1, max_value=250),
)
def test_any_short_history_is_safe_and_live(seed: int, nodes: int, steps: int) -> None:
    result = run_seed(seed, nodes, steps)
    assert not isinstance(result, SeedFailure), (
        f"seed {seed} nodes {nodes} steps {steps}: {result.violation}"
    )
