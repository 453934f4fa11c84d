"""The storage contract the Raft core reads from, and an in-memory implementation.

The core only *reads* storage (``initial_state``, ``entries``, ``term``,
``first_index``, ``last_index``, ``snapshot``). The caller *writes* it, after each
``Ready``, with ``append``, ``set_hard_state`` and ``apply_snapshot``, and calls
``compact`` when the state machine hands over a snapshot. A write must be durable
(fsynced) before the caller sends that Ready's messages.

Index layout: storage holds one snapshot (index ``s``, possibly the empty one at
index 0) and the contiguous entries ``s+1 .. last_index()``. ``term(s)`` is still
known (from the snapshot) so a leader can check the entry just before its first.

Membership: ``initial_state()`` returns the ConfState *of the stored snapshot*.
The core replays CONF_CHANGE entries found after it (a configuration takes effect
when its entry is appended), so storage never keeps a separate membership record.

``MemoryStorage`` is the reference implementation used by tests and the
simulator; the SQLite storage in ``mesh.node`` implements the same Protocol and
must raise the same errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from mesh.raft.confchange import ConfChange, ConfChangeType
from mesh.raft.errors import CompactedError, SnapshotOutOfDate, UnavailableError
from mesh.raft.types import ConfState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta

ENTRY_OVERHEAD = 24
"""Bytes counted per entry on top of its data when sizing messages and reads."""


def entry_size(entry: Entry) -> int:
    return len(entry.data) + ENTRY_OVERHEAD


def limit_size(entries: Sequence[Entry], max_bytes: int | None) -> list[Entry]:
    """The longest prefix within ``max_bytes``, but always at least one entry."""
    if max_bytes is None or not entries:
        return list(entries)
    total = 0
    for n, e in enumerate(entries):
        total += entry_size(e)
        if total > max_bytes and n > 0:
            return list(entries[:n])
    return list(entries)


class Storage(Protocol):
    """What the Raft core needs from durable storage. Contract in each docstring."""

    def initial_state(self) -> tuple[HardState, ConfState]:
        """The last persisted HardState, and the ConfState of the stored snapshot."""
        ...

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries with ``lo <= index < hi``, in order, trimmed to ``max_bytes``.

        Returns at least one entry when ``lo < hi`` even if it alone exceeds
        ``max_bytes``. Raises CompactedError if ``lo <= snapshot index`` and
        UnavailableError if ``hi > last_index() + 1``.
        """
        ...

    def term(self, index: int) -> int:
        """The term of the entry at ``index``; valid from the snapshot index to last_index().

        Raises CompactedError below the snapshot index, UnavailableError above last_index().
        """
        ...

    def first_index(self) -> int:
        """The index of the first entry still stored: snapshot index + 1."""
        ...

    def last_index(self) -> int:
        """The index of the last entry; the snapshot index if there are none."""
        ...

    def snapshot(self) -> Snapshot:
        """The most recent snapshot (the empty one at index 0 if there is none)."""
        ...

    def append(self, entries: Sequence[Entry]) -> None:
        """Durably append ``entries`` (contiguous, ascending).

        If the first new index is at or below last_index(), every stored entry
        from that index on is discarded first (a new leader overwrote them).
        Entries at or below the snapshot index are ignored. A gap raises
        UnavailableError.
        """
        ...

    def set_hard_state(self, hard_state: HardState) -> None:
        """Durably record term, vote and commit."""
        ...

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace the whole log by ``snapshot`` (received from a leader).

        Raises SnapshotOutOfDate if it is not newer than the stored one.
        """
        ...

    def compact(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` (taken by the local state machine) and drop the entries it covers.

        ``snapshot.meta.index`` must be in (snapshot index, last_index()] and carry
        the term of the entry there; use ``RawNode.snapshot_at`` to build it. Raises
        SnapshotOutOfDate if it is not newer, UnavailableError if beyond the log.
        """
        ...


EMPTY_SNAPSHOT = Snapshot(meta=SnapshotMeta(index=0, term=0, conf=ConfState()))


class LogCache:
    """The read half of ``Storage`` over a log kept in memory: hard state, the newest
    snapshot and the entries after it. ``MemoryStorage`` is only this plus writes;
    the node's SQLite store keeps the same cache in front of its file."""

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = EMPTY_SNAPSHOT
        self._entries: list[Entry] = []  # indices snapshot.index+1 .. last

    # -- reads ------------------------------------------------------------
    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.meta.conf

    @property
    def hard_state(self) -> HardState:
        return self._hard_state

    def first_index(self) -> int:
        return self._snapshot.meta.index + 1

    def last_index(self) -> int:
        return self._snapshot.meta.index + len(self._entries)

    def term(self, index: int) -> int:
        base = self._snapshot.meta.index
        if index < base:
            raise CompactedError(f"index {index} compacted (snapshot at {base})")
        if index > self.last_index():
            raise UnavailableError(f"index {index} beyond last {self.last_index()}")
        if index == base:
            return self._snapshot.meta.term
        return self._entries[index - base - 1].term

    def entries(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        base = self._snapshot.meta.index
        if lo <= base:
            raise CompactedError(f"index {lo} compacted (snapshot at {base})")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} beyond last {self.last_index()}")
        return limit_size(self._entries[lo - base - 1 : hi - base - 1], max_bytes)

    def snapshot(self) -> Snapshot:
        return self._snapshot


class MemoryStorage(LogCache):
    """Storage kept in memory: durable as long as the object lives (the simulator's "disk")."""

    # -- writes -----------------------------------------------------------
    def append(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        base = self._snapshot.meta.index
        new = [e for e in entries if e.index > base]
        if not new:
            return
        first = new[0].index
        if first > self.last_index() + 1:
            raise UnavailableError(f"gap: appending {first} after last {self.last_index()}")
        del self._entries[first - base - 1 :]
        self._entries.extend(new)

    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        if snapshot.meta.index <= self._snapshot.meta.index:
            raise SnapshotOutOfDate(
                f"snapshot {snapshot.meta.index} not newer than {self._snapshot.meta.index}"
            )
        self._snapshot = snapshot
        self._entries = []

    def compact(self, snapshot: Snapshot) -> None:
        index, base = snapshot.meta.index, self._snapshot.meta.index
        if index <= base:
            raise SnapshotOutOfDate(f"snapshot {index} not newer than {base}")
        if index > self.last_index():
            raise UnavailableError(f"cannot compact to {index} beyond last {self.last_index()}")
        if self.term(index) != snapshot.meta.term:
            raise SnapshotOutOfDate(f"snapshot term {snapshot.meta.term} differs from the log's")
        del self._entries[: index - base]
        self._snapshot = snapshot


def bootstrap(storage: Storage, voters: Iterable[str], learners: Iterable[str] = ()) -> None:
    """Write the founding configuration of a new cluster into an empty storage.

    Every founding node must be bootstrapped identically: the configuration is a
    run of committed CONF_CHANGE entries in term 1, so a node that joins later and
    replays the log from index 1 rebuilds exactly the same membership.
    """
    if storage.last_index() != 0 or storage.initial_state()[0] != HardState():
        raise ValueError("bootstrap needs an empty storage")
    changes = [ConfChange(type=ConfChangeType.ADD_VOTER, node_id=v) for v in sorted(voters)]
    changes += [ConfChange(type=ConfChangeType.ADD_LEARNER, node_id=n) for n in sorted(learners)]
    if not any(c.type is ConfChangeType.ADD_VOTER for c in changes):
        raise ValueError("bootstrap needs at least one voter")
    entries = [
        Entry(term=1, index=i, kind=EntryKind.CONF_CHANGE, data=cc.encode())
        for i, cc in enumerate(changes, start=1)
    ]
    storage.append(entries)
    storage.set_hard_state(HardState(term=1, vote=None, commit=len(entries)))
