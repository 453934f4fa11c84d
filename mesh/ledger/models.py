"""SQLAlchemy 2.x tables for the ledger's applied state and its snapshots.

Declarations plus pure conversion functions that work in a ``Session`` the
caller gives; the engine, the file and the transaction boundaries belong to the
node. Types are portable (SQLite by default, PostgreSQL for a chain): integers
are ``BigInteger`` (ms timestamps overflow 32 bits), bytes are ``LargeBinary``,
strings have lengths.

Why snapshots and not a row per check: the ledger's truth is the replicated log
and the canonical snapshot; a second, relational copy could drift from it. The
``ledger_applied`` row records the state the node last persisted (index, term,
hash) so that on restart it restores the snapshot at that index and replays the
log from the next entry. Reports that need SQL belong to the cloud.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Annotated, Final

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from mesh.ledger.state import SNAPSHOT_FORMAT, LedgerState

# Named constraints, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Hash = Annotated[str, 64]
Label = Annotated[str, 32]

# Snapshots are stored zlib-compressed (about a tenth of the canonical JSON for a
# busy day). The hash is always over the canonical bytes, never the compressed
# ones, because zlib's output may differ between library versions.
ENCODING: Final = "json+zlib"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        int: BigInteger(),
        bytes: LargeBinary(),
        str: String(255),
        Hash: String(64),
        Label: String(32),
    }


class LedgerSnapshot(Base):
    """One canonical snapshot of the ledger at an applied index."""

    __tablename__ = "ledger_snapshots"
    __table_args__ = (
        UniqueConstraint("applied_index"),
        CheckConstraint("applied_index >= 0", name="applied_index_not_negative"),
        CheckConstraint("stored_size = length(data)", name="stored_size_matches_data"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    applied_index: Mapped[int]
    term: Mapped[int]
    state_hash: Mapped[Hash]
    format: Mapped[int] = mapped_column(Integer)
    encoding: Mapped[Label]
    size: Mapped[int]  # of the canonical snapshot
    stored_size: Mapped[int]
    stamped_time_ms: Mapped[int]  # the ledger's last stamped time, not a wall clock
    data: Mapped[bytes]

    def canonical(self) -> bytes:
        """The canonical snapshot bytes (what ``LedgerState.restore`` takes)."""
        if self.encoding != ENCODING:
            raise ValueError(f"unknown snapshot encoding {self.encoding!r}")
        return zlib.decompress(self.data)


class LedgerApplied(Base):
    """The single row saying which snapshot is current (what a restart restores)."""

    __tablename__ = "ledger_applied"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    applied_index: Mapped[int]
    term: Mapped[int]
    state_hash: Mapped[Hash]


def save_snapshot(session: Session, state: LedgerState) -> LedgerSnapshot:
    """Add a snapshot of ``state`` and make it current; the caller commits."""
    data = state.snapshot()
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalar(
        select(LedgerSnapshot).where(LedgerSnapshot.applied_index == state.applied_index)
    )
    if existing is not None:
        if existing.state_hash != digest:
            raise ValueError(f"a different snapshot exists at index {state.applied_index}")
        row = existing
    else:
        stored = zlib.compress(data, 6)
        row = LedgerSnapshot(
            applied_index=state.applied_index,
            term=state.applied_term,
            state_hash=digest,
            format=SNAPSHOT_FORMAT,
            encoding=ENCODING,
            size=len(data),
            stored_size=len(stored),
            stamped_time_ms=state.last_time_ms,
            data=stored,
        )
        session.add(row)
    current = session.get(LedgerApplied, 1)
    if current is None:
        session.add(
            LedgerApplied(
                id=1, applied_index=state.applied_index, term=state.applied_term, state_hash=digest
            )
        )
    else:
        current.applied_index = state.applied_index
        current.term = state.applied_term
        current.state_hash = digest
    session.flush()
    return row


def load_state(session: Session) -> LedgerState | None:
    """The ledger as last saved, or ``None`` on a fresh node."""
    current = session.get(LedgerApplied, 1)
    if current is None:
        return None
    row = session.scalar(
        select(LedgerSnapshot).where(LedgerSnapshot.applied_index == current.applied_index)
    )
    if row is None:
        raise ValueError(f"the current snapshot {current.applied_index} is missing")
    data = row.canonical()
    if hashlib.sha256(data).hexdigest() != row.state_hash:
        raise ValueError(f"snapshot {row.applied_index} does not match its hash")
    return LedgerState.restore(data)


def load_snapshot_bytes(session: Session, applied_index: int) -> bytes | None:
    """The snapshot at ``applied_index`` (for sending to a lagging follower)."""
    row = session.scalar(
        select(LedgerSnapshot).where(LedgerSnapshot.applied_index == applied_index)
    )
    return None if row is None else row.canonical()


def prune_snapshots(session: Session, *, keep: int = 3) -> int:
    """Delete all but the newest ``keep`` snapshots; returns how many went."""
    rows = session.scalars(
        select(LedgerSnapshot).order_by(LedgerSnapshot.applied_index.desc())
    ).all()
    current = session.get(LedgerApplied, 1)
    removed = 0
    for row in rows[keep:]:
        if current is not None and row.applied_index == current.applied_index:
            continue
        session.delete(row)
        removed += 1
    session.flush()
    return removed
