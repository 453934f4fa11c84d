"""Snapshots, hashes and the SQLAlchemy store (a SQLite file in a tmp dir)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mesh.ledger import LedgerState, apply, restore
from mesh.ledger.models import (
    Base,
    LedgerSnapshot,
    load_snapshot_bytes,
    load_state,
    prune_snapshots,
    save_snapshot,
)
from tests.ledger.ledger_harness import Till


def busy_till() -> Till:
    till = Till()
    for table in ("1", "2", "3"):
        check = till.open(table=table)
        till.add(check, {"item": "burger"}, {"item": "ipa", "seat": 2})
        till.ok("fire", check=check)
    till.ok("clock_in", by="s-ben")
    till.ok("pay", check=check, tender="cash", tendered=10_000)
    till.ok("close_check", check=check)
    return till


def test_snapshot_restore_gives_the_same_bytes_and_hash() -> None:
    till = busy_till()
    data = till.state.snapshot()
    again = restore(data)
    assert again.snapshot() == data
    assert again.state_hash() == till.state.state_hash()


def test_restored_state_continues_like_the_original() -> None:
    till = busy_till()
    copy = LedgerState.restore(till.state.snapshot())
    check = till.open(table="9")
    for entry in till.log[-1:]:
        apply(copy, entry)
    assert copy.state_hash() == till.state.state_hash()
    assert check in copy.checks


def test_a_replay_on_a_fresh_state_gives_the_same_hash() -> None:
    till = busy_till()
    fresh = LedgerState()
    for entry in till.log:
        apply(fresh, entry)
    assert fresh.state_hash() == till.state.state_hash()


def test_unknown_snapshot_format_is_refused() -> None:
    with pytest.raises(ValueError):
        restore(b'{"format": 99}')


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_schema_has_named_constraints(engine: Engine) -> None:
    names = {c["name"] for c in inspect(engine).get_unique_constraints("ledger_snapshots")}
    assert "uq_ledger_snapshots_applied_index" in names
    checks = {c["name"] for c in inspect(engine).get_check_constraints("ledger_snapshots")}
    assert "ck_ledger_snapshots_stored_size_matches_data" in checks


def test_save_and_load_through_a_sqlite_file(engine: Engine) -> None:
    till = busy_till()
    with Session(engine) as session:
        assert load_state(session) is None
        save_snapshot(session, till.state)
        session.commit()
    till.open(table="5")
    with Session(engine) as session:
        save_snapshot(session, till.state)
        save_snapshot(session, till.state)  # the same index twice is idempotent
        session.commit()
    with Session(engine) as session:
        loaded = load_state(session)
        assert loaded is not None
        assert loaded.state_hash() == till.state.state_hash()
        assert loaded.applied_index == till.index
        data = load_snapshot_bytes(session, till.index)
        assert data == till.state.snapshot()
        row = session.query(LedgerSnapshot).filter_by(applied_index=till.index).one()
        assert row.size == len(data) and row.term == 1
        assert row.stored_size == len(row.data) < row.size


def test_a_different_snapshot_at_the_same_index_is_refused(engine: Engine) -> None:
    till = busy_till()
    with Session(engine) as session:
        save_snapshot(session, till.state)
        till.state.eighty_six["ipa"] = 1  # diverged, same index: a bug to catch
        with pytest.raises(ValueError):
            save_snapshot(session, till.state)


def test_prune_keeps_the_newest_and_the_current(engine: Engine) -> None:
    till = busy_till()
    with Session(engine) as session:
        for _ in range(5):
            till.ok("no_sale", by="m-eve")
            save_snapshot(session, till.state)
        assert prune_snapshots(session, keep=2) == 3
        session.commit()
        indexes = [r.applied_index for r in session.query(LedgerSnapshot).all()]
        assert sorted(indexes) == [till.index - 1, till.index]
        assert load_state(session) is not None


def test_a_tampered_snapshot_is_detected(engine: Engine) -> None:
    till = busy_till()
    with Session(engine) as session:
        row = save_snapshot(session, till.state)
        tampered = row.canonical().replace(b'"table":"1"', b'"table":"7"')
        row.data = zlib.compress(tampered)
        row.stored_size = len(row.data)
        session.commit()
        with pytest.raises(ValueError):
            load_state(session)
