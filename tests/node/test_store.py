"""The SQLite Raft storage: the Storage contract, durability across kill -9, corrupt tails."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mesh.node.store import SQLiteStorage, StoreCorrupt
from mesh.raft.errors import CompactedError, SnapshotOutOfDate, UnavailableError
from mesh.raft.storage import MemoryStorage
from mesh.raft.types import ConfState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta


def E(index: int, term: int = 1, data: bytes = b"") -> Entry:
    return Entry(term=term, index=index, data=data or f"cmd{index}".encode())


@pytest.fixture(params=["sqlite", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    # The same assertions run against the reference MemoryStorage: both must agree.
    if request.param == "memory":
        yield MemoryStorage()
        return
    s = SQLiteStorage(tmp_path / "raft.db")
    yield s
    s.close()


def test_contract_append_read_overwrite(storage) -> None:  # type: ignore[no-untyped-def]
    assert storage.first_index() == 1 and storage.last_index() == 0
    storage.append([E(1), E(2), E(3, term=2)])
    assert storage.last_index() == 3
    assert storage.term(3) == 2
    assert [e.index for e in storage.entries(1, 4)] == [1, 2, 3]
    # A new leader overwrites from index 2.
    storage.append([E(2, term=3, data=b"x"), E(3, term=3, data=b"y")])
    assert [(e.term, e.data) for e in storage.entries(2, 4)] == [(3, b"x"), (3, b"y")]
    with pytest.raises(UnavailableError):
        storage.entries(1, 5)
    with pytest.raises(UnavailableError):
        storage.append([E(9)])
    # max_bytes keeps at least one entry.
    assert len(storage.entries(1, 4, max_bytes=1)) == 1


def test_contract_compact_and_snapshot(storage) -> None:  # type: ignore[no-untyped-def]
    storage.append([E(i) for i in range(1, 11)])
    conf = ConfState(voters=frozenset({"a", "b", "c"}))
    snap = Snapshot(meta=SnapshotMeta(index=6, term=1, conf=conf), data=b"state@6")
    storage.compact(snap)
    assert storage.first_index() == 7 and storage.last_index() == 10
    assert storage.term(6) == 1
    with pytest.raises(CompactedError):
        storage.entries(6, 8)
    with pytest.raises(CompactedError):
        storage.term(5)
    with pytest.raises(SnapshotOutOfDate):
        storage.compact(snap)
    newer = Snapshot(meta=SnapshotMeta(index=20, term=4, conf=conf), data=b"state@20")
    storage.apply_snapshot(newer)
    assert storage.snapshot() == newer
    assert storage.last_index() == 20 and storage.first_index() == 21
    assert storage.initial_state()[1] == conf
    with pytest.raises(SnapshotOutOfDate):
        storage.apply_snapshot(snap)


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    s = SQLiteStorage(path)
    conf = ConfState(voters=frozenset({"a"}), learners=frozenset({"k"}))
    with s.batch():
        s.append([E(i, term=2) for i in range(1, 6)])
        s.set_hard_state(HardState(term=2, vote="a", commit=4))
    s.compact(Snapshot(meta=SnapshotMeta(index=2, term=2, conf=conf), data=b"S"))
    s.close()
    t = SQLiteStorage(path)
    try:
        assert t.initial_state() == (HardState(term=2, vote="a", commit=4), conf)
        assert [e.index for e in t.entries(3, 6)] == [3, 4, 5]
        assert t.snapshot().data == b"S"
        assert t.truncated_on_open == 0
    finally:
        t.close()


def test_a_failed_batch_writes_nothing(tmp_path: Path) -> None:
    s = SQLiteStorage(tmp_path / "raft.db")
    try:
        s.append([E(1)])
        with pytest.raises(RuntimeError), s.batch():
            s.append([E(2), E(3)])
            raise RuntimeError("disk full")
        assert s.last_index() == 1
    finally:
        s.close()


def test_a_corrupt_tail_is_cut_to_the_last_valid_entry(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    s = SQLiteStorage(path)
    s.append([E(i) for i in range(1, 11)])
    s.set_hard_state(HardState(term=1, vote=None, commit=10))
    s.close()
    with sqlite3.connect(path) as db:  # flip entry 7's payload behind the store's back
        db.execute("UPDATE raft_entries SET data = x'deadbeef' WHERE idx = 7")
    t = SQLiteStorage(path)
    try:
        assert t.last_index() == 6
        assert t.truncated_on_open == 4
        assert t.initial_state()[0].commit == 6
        t.append([E(7, term=2)])  # the log goes on from there
        assert t.last_index() == 7
    finally:
        t.close()


def test_a_gap_in_the_log_is_cut_too(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    s = SQLiteStorage(path)
    s.append([E(i) for i in range(1, 6)])
    s.close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM raft_entries WHERE idx = 3")
    t = SQLiteStorage(path)
    try:
        assert t.last_index() == 2
    finally:
        t.close()


def test_a_truncated_file_is_reported_not_accepted(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    s = SQLiteStorage(path)
    s.append([E(i, data=b"x" * 3000) for i in range(1, 200)])
    s.close()
    size = path.stat().st_size
    with path.open("r+b") as f:
        f.truncate(size // 3)
    with pytest.raises(StoreCorrupt):
        SQLiteStorage(path)


def test_a_garbage_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreCorrupt):
        SQLiteStorage(path)


WRITER = """
import sys
from pathlib import Path
from mesh.node.store import SQLiteStorage
from mesh.raft.types import Entry, HardState
s = SQLiteStorage(Path(sys.argv[1]))
i = s.last_index()
while True:
    with s.batch():
        s.append([Entry(term=1, index=i + k, data=b"x" * 100) for k in range(1, 11)])
        s.set_hard_state(HardState(term=1, vote=None, commit=i + 10))
    i += 10
    print(i, flush=True)  # acknowledged: on disk
"""


def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "raft.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    acked = 0
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while acked < 300 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert acked >= 300
    s = SQLiteStorage(path)
    try:
        assert s.last_index() >= acked
        assert s.truncated_on_open == 0
        assert all(e.kind is EntryKind.NORMAL for e in s.entries(1, acked + 1))
    finally:
        s.close()
