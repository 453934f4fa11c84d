"""The Raft log, hard state and snapshot in SQLite: the durable ``Storage`` of a node.

Implements the contract of ``mesh.raft.storage.Storage`` (read it first) on a
SQLite file through SQLAlchemy 2 (typed models, Core statements), with the
journal in WAL mode and ``synchronous=FULL``: a committed transaction is on disk
when ``commit`` returns.

Group commit: ``with store.batch():`` turns every write inside it (the entries,
the hard state and the snapshot of one ``Ready``) into one transaction, hence one
fsync for the lot. Outside a batch each write commits on its own.

Every entry row carries a CRC32 of its term, index, kind and data. On open the
log's tail is checked and anything after the last valid, contiguous entry is cut
off (and logged): a torn or corrupt tail is never silently accepted. The entries
cut were never acknowledged by this node as durable (they were in the unsynced
tail), so Raft fetches them again from the leader.

A file SQLite itself cannot read raises ``StoreCorrupt``; the node decides what to
do (it moves the file aside and rejoins from the leader).
"""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
)
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mesh.raft.errors import SnapshotOutOfDate, UnavailableError
from mesh.raft.storage import LogCache
from mesh.raft.types import ConfState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


class Base(DeclarativeBase):
    """Typed models of the store's tables; the code reads and writes them with
    SQLAlchemy Core statements on ``Model.__table__`` (one Ready is a handful of
    bulk statements, with no identity map to keep in step with the Raft core)."""

    metadata = MetaData(
        naming_convention={"pk": "pk_%(table_name)s", "uq": "uq_%(table_name)s_%(column_0_name)s"}
    )


class EntryRow(Base):
    """One Raft log entry, with a CRC32 of its term, index, kind and data."""

    __tablename__ = "raft_entries"
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    term: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    crc: Mapped[int] = mapped_column(Integer)


class HardStateRow(Base):
    """The one row of Raft hard state: term, vote, commit index."""

    __tablename__ = "raft_hard_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    term: Mapped[int] = mapped_column(Integer)
    vote: Mapped[str | None] = mapped_column(String(64), nullable=True)
    commit_index: Mapped[int] = mapped_column(Integer)


class SnapshotRow(Base):
    """The one newest snapshot: its Raft metadata and the ledger state it holds."""

    __tablename__ = "raft_snapshot"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer)
    term: Mapped[int] = mapped_column(Integer)
    voters: Mapped[str] = mapped_column(String)
    learners: Mapped[str] = mapped_column(String)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    crc: Mapped[int] = mapped_column(Integer)


class MetaRow(Base):
    """Store-level facts (the schema version)."""

    __tablename__ = "store_meta"
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String)


metadata = Base.metadata
raft_entries: Table = EntryRow.__table__  # type: ignore[assignment]
raft_hard_state: Table = HardStateRow.__table__  # type: ignore[assignment]
raft_snapshot: Table = SnapshotRow.__table__  # type: ignore[assignment]
store_meta: Table = MetaRow.__table__  # type: ignore[assignment]

_ONLY_ROW = 1

# The statements of the write path. The two that run for every Ready are plain SQL
# through SQLAlchemy's ``exec_driver_sql``: same connection, same transaction and
# error handling, but no statement compiling and no dict per row. A Ready of one
# entry cost 0.56-0.61 ms of CPU with Core statements, 0.40 ms this way (800 writes,
# fsync on; docs/benchmarks.md).
_DELETE_FROM = delete(raft_entries).where(raft_entries.c.idx >= bindparam("first"))
_INSERT_ENTRIES_SQL = (
    f"INSERT INTO {raft_entries.name} (idx, term, kind, data, crc) VALUES (?, ?, ?, ?, ?)"
)
_PUT_HARD_STATE_SQL = (
    f"INSERT OR REPLACE INTO {raft_hard_state.name} (id, term, vote, commit_index) "
    f"VALUES ({_ONLY_ROW}, ?, ?, ?)"  # one row, replaced in one statement
)


class StoreCorrupt(Exception):
    """The database file cannot be read as a tablemesh store."""


def entry_crc(term: int, index: int, kind: str, data: bytes) -> int:
    return zlib.crc32(data, zlib.crc32(struct.pack(">QQ", term, index) + kind.encode()))


def _snapshot_crc(meta: SnapshotMeta, data: bytes) -> int:
    head = json.dumps(
        [meta.index, meta.term, sorted(meta.conf.voters), sorted(meta.conf.learners)]
    ).encode()
    return zlib.crc32(data, zlib.crc32(head))


def _set_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; FULL: fsync the WAL on every commit,
    # so an acknowledged entry survives power loss, not only a process crash.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


class SQLiteStorage(LogCache):
    """Durable Raft storage in one SQLite file. Used from one thread (the node's loop)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # One connection, used by one thread at a time: the loop's, or the worker
        # that runs a Ready's fsync while the loop waits for it.
        self._engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
        event.listen(self._engine, "connect", _set_pragmas)
        try:
            self._conn: Connection = self._engine.connect()
            self._check_integrity()
            metadata.create_all(self._conn)
            self._conn.commit()
        except DatabaseError as exc:
            self._engine.dispose()
            raise StoreCorrupt(f"{path} cannot be read as a store: {exc.orig}") from exc
        self._in_batch = False
        super().__init__()  # the cache of snapshot.index+1 .. last the reads come from
        self.truncated_on_open = 0
        self._load()

    # -- opening ------------------------------------------------------------
    def _check_integrity(self) -> None:
        result = self._conn.exec_driver_sql("PRAGMA quick_check").scalar()
        self._conn.commit()
        if result != "ok":
            raise StoreCorrupt(f"{self.path} failed SQLite's integrity check: {result}")

    def _load(self) -> None:
        hs = self._conn.execute(select(raft_hard_state)).first()
        if hs is not None:
            self._hard_state = HardState(term=hs.term, vote=hs.vote, commit=hs.commit_index)
        snap = self._conn.execute(select(raft_snapshot)).first()
        if snap is not None:
            meta = SnapshotMeta(
                index=snap.idx,
                term=snap.term,
                conf=ConfState(
                    voters=frozenset(json.loads(snap.voters)),
                    learners=frozenset(json.loads(snap.learners)),
                ),
            )
            if _snapshot_crc(meta, snap.data) != snap.crc:
                raise StoreCorrupt(f"{self.path}: the stored snapshot fails its checksum")
            self._snapshot = Snapshot(meta=meta, data=snap.data)
        rows = self._conn.execute(select(raft_entries).order_by(raft_entries.c.idx)).all()
        expected = self._snapshot.meta.index + 1
        good: list[Entry] = []
        for row in rows:
            if row.idx < expected:
                continue  # covered by the snapshot; removed at the next compaction
            if row.idx != expected or entry_crc(row.term, row.idx, row.kind, row.data) != row.crc:
                break
            try:
                kind = EntryKind(row.kind)
            except ValueError:
                break
            good.append(Entry(term=row.term, index=row.idx, kind=kind, data=row.data))
            expected += 1
        bad = len([r for r in rows if r.idx >= self._snapshot.meta.index + 1]) - len(good)
        if bad:
            log.error(
                "store tail is corrupt: cutting it to the last valid entry",
                extra={"last_valid": expected - 1, "entries_cut": bad},
            )
            self._conn.execute(delete(raft_entries).where(raft_entries.c.idx >= expected))
            self._conn.commit()
            self.truncated_on_open = bad
        self._entries = good
        last = self.last_index()
        if self._hard_state.commit > last:
            # The commit index cannot point past what we hold; Raft re-learns it.
            log.error(
                "hard state commit is beyond the log: lowering it",
                extra={"commit": self._hard_state.commit, "last_index": last},
            )
            self._hard_state = HardState(
                term=self._hard_state.term, vote=self._hard_state.vote, commit=last
            )

    def close(self) -> None:
        with contextlib.suppress(DatabaseError):
            self._conn.close()
        self._engine.dispose()

    # -- group commit -----------------------------------------------------
    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Every write inside is one transaction (one fsync) committed at the end."""
        if self._in_batch:
            yield
            return
        self._in_batch = True
        try:
            yield
        except BaseException:
            self._conn.rollback()
            self._in_batch = False
            # The cache may hold writes that were rolled back: reload from disk.
            self._load()
            raise
        self._in_batch = False
        self._conn.commit()

    def _done(self) -> None:
        if not self._in_batch:
            self._conn.commit()

    # -- writes -----------------------------------------------------------
    # Each write has an SQL half and a cache half. ``write_ready`` runs the SQL
    # halves of one Ready on a worker thread (the fsync leaves the event loop free)
    # while the Raft core may still read the cache; ``absorb_ready`` then updates
    # the cache on the loop's thread. The Protocol methods below do both at once.

    def _check_append(self, entries: Sequence[Entry]) -> list[Entry]:
        base = self._snapshot.meta.index
        new = [e for e in entries if e.index > base]
        if new and new[0].index > self.last_index() + 1:
            raise UnavailableError(f"gap: appending {new[0].index} after last {self.last_index()}")
        return new

    def _sql_append(self, new: Sequence[Entry]) -> None:
        if new[0].index <= self.last_index():
            # Whatever follows the first new index was overwritten by a new leader.
            self._conn.execute(_DELETE_FROM, {"first": new[0].index})
        self._conn.exec_driver_sql(
            _INSERT_ENTRIES_SQL,
            [
                (
                    e.index,
                    e.term,
                    e.kind.value,
                    e.data,
                    entry_crc(e.term, e.index, e.kind.value, e.data),
                )
                for e in new
            ],
        )

    def _cache_append(self, new: Sequence[Entry]) -> None:
        base = self._snapshot.meta.index
        del self._entries[new[0].index - base - 1 :]
        self._entries.extend(new)

    def _sql_hard_state(self, hard_state: HardState) -> None:
        self._conn.exec_driver_sql(
            _PUT_HARD_STATE_SQL, (hard_state.term, hard_state.vote, hard_state.commit)
        )

    def append(self, entries: Sequence[Entry]) -> None:
        new = self._check_append(entries)
        if not new:
            return
        self._sql_append(new)
        self._cache_append(new)
        self._done()

    def set_hard_state(self, hard_state: HardState) -> None:
        self._sql_hard_state(hard_state)
        self._hard_state = hard_state
        self._done()

    def _write_snapshot(self, snapshot: Snapshot) -> None:
        meta = snapshot.meta
        self._conn.execute(delete(raft_snapshot))
        self._conn.execute(
            insert(raft_snapshot).values(
                id=_ONLY_ROW,
                idx=meta.index,
                term=meta.term,
                voters=json.dumps(sorted(meta.conf.voters)),
                learners=json.dumps(sorted(meta.conf.learners)),
                data=snapshot.data,
                crc=_snapshot_crc(meta, snapshot.data),
            )
        )

    def _check_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.meta.index <= self._snapshot.meta.index:
            raise SnapshotOutOfDate(
                f"snapshot {snapshot.meta.index} not newer than {self._snapshot.meta.index}"
            )

    def _sql_snapshot(self, snapshot: Snapshot) -> None:
        self._write_snapshot(snapshot)
        self._conn.execute(delete(raft_entries))

    def _cache_snapshot(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self._entries = []

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        self._check_snapshot(snapshot)
        self._sql_snapshot(snapshot)
        self._cache_snapshot(snapshot)
        self._done()

    def write_ready(
        self, snapshot: Snapshot | None, entries: Sequence[Entry], hard_state: HardState | None
    ) -> None:
        """The SQL half of persisting one Ready: one transaction, one fsync. Thread-safe
        against cache reads: it reads the cache (validation) but never changes it."""
        if snapshot is not None:
            self._check_snapshot(snapshot)
        new = list(entries)
        if snapshot is None:
            new = self._check_append(entries)
        elif new:
            new = [e for e in new if e.index > snapshot.meta.index]
        try:
            if snapshot is not None:
                self._sql_snapshot(snapshot)
            if new:
                self._sql_append(new)
            if hard_state is not None:
                self._sql_hard_state(hard_state)
            self._conn.commit()
        except BaseException:
            self._conn.rollback()
            raise

    def absorb_ready(
        self, snapshot: Snapshot | None, entries: Sequence[Entry], hard_state: HardState | None
    ) -> None:
        """The cache half, once ``write_ready`` returned (on the thread that reads the cache)."""
        if snapshot is not None:
            self._cache_snapshot(snapshot)
        new = [e for e in entries if e.index > self._snapshot.meta.index]
        if new:
            self._cache_append(new)
        if hard_state is not None:
            self._hard_state = hard_state

    def compact(self, snapshot: Snapshot) -> None:
        index, base = snapshot.meta.index, self._snapshot.meta.index
        if index <= base:
            raise SnapshotOutOfDate(f"snapshot {index} not newer than {base}")
        if index > self.last_index():
            raise UnavailableError(f"cannot compact to {index} beyond last {self.last_index()}")
        if self.term(index) != snapshot.meta.term:
            raise SnapshotOutOfDate(f"snapshot term {snapshot.meta.term} differs from the log's")
        self._write_snapshot(snapshot)
        self._conn.execute(delete(raft_entries).where(raft_entries.c.idx <= index))
        del self._entries[: index - base]
        self._snapshot = snapshot
        self._done()
