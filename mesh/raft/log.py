"""The Raft log as the core sees it: stable storage plus what is not persisted yet.

``RaftLog`` stitches together the entries already in ``Storage`` and an
*unstable* tail (entries, or a snapshot from the leader) that the next Ready
hands to the caller to persist. It also tracks ``committed`` (known to be on a
quorum) and ``applied`` (handed to the state machine and acknowledged).

Invariant: applied <= committed <= last_index(). Committed entries are never
truncated; an attempt raises InvariantViolation instead of silently diverging.
"""

from __future__ import annotations

from collections.abc import Sequence

from mesh.raft.errors import CompactedError, InvariantViolation, UnavailableError
from mesh.raft.storage import Storage, limit_size
from mesh.raft.types import Entry, Snapshot


class RaftLog:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        first = storage.first_index()
        # Unstable tail: entries at indices offset, offset+1, ... not yet persisted.
        self.unstable: list[Entry] = []
        self.offset = storage.last_index() + 1
        self.unstable_snapshot: Snapshot | None = None
        self.committed = first - 1
        self.applied = first - 1

    # -- positions --------------------------------------------------------
    def first_index(self) -> int:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index + 1
        return self.storage.first_index()

    def last_index(self) -> int:
        if self.unstable:
            return self.offset + len(self.unstable) - 1
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot.meta.index
        return self.storage.last_index()

    def term(self, index: int) -> int | None:
        """The term at ``index``, or None if compacted away or beyond the log."""
        if index < self.first_index() - 1 or index > self.last_index():
            return None
        snap = self.unstable_snapshot
        if snap is not None and index == snap.meta.index:
            return snap.meta.term
        if index >= self.offset and self.unstable:
            return self.unstable[index - self.offset].term
        if snap is not None:
            return None
        try:
            return self.storage.term(index)
        except (CompactedError, UnavailableError):
            return None

    def last_term(self) -> int:
        term = self.term(self.last_index())
        if term is None:
            raise InvariantViolation("the last entry's term is unknown")
        return term

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Election restriction (paper 5.4.1): is (last_index, last_term) at least as new as us?"""
        mine = self.last_term()
        return last_term > mine or (last_term == mine and last_index >= self.last_index())

    # -- reading ----------------------------------------------------------
    def slice(self, lo: int, hi: int, max_bytes: int | None = None) -> list[Entry]:
        """Entries [lo, hi). Raises CompactedError if lo is below first_index()."""
        if lo >= hi:
            return []
        if lo < self.first_index():
            raise CompactedError(f"index {lo} compacted")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"index {hi - 1} beyond last {self.last_index()}")
        out: list[Entry] = []
        if lo < self.offset:
            out = self.storage.entries(lo, min(hi, self.offset), max_bytes)
            if len(out) < min(hi, self.offset) - lo:
                return out  # the size limit stopped us inside storage
        if hi > self.offset:
            out += self.unstable[max(lo, self.offset) - self.offset : hi - self.offset]
        return limit_size(out, max_bytes)

    def entries_from(self, index: int, max_bytes: int | None = None) -> list[Entry]:
        return self.slice(index, self.last_index() + 1, max_bytes)

    def snapshot(self) -> Snapshot:
        if self.unstable_snapshot is not None:
            return self.unstable_snapshot
        return self.storage.snapshot()

    def next_committed_entries(self) -> list[Entry]:
        """Committed entries not yet applied (none while a snapshot waits to be applied)."""
        if self.unstable_snapshot is not None:
            return []
        lo = max(self.applied + 1, self.first_index())
        return self.slice(lo, self.committed + 1)

    def has_next_committed_entries(self) -> bool:
        if self.unstable_snapshot is not None:
            return False
        return self.committed > max(self.applied, self.first_index() - 1)

    # -- changing ---------------------------------------------------------
    def find_conflict(self, entries: Sequence[Entry]) -> int:
        """Index of the first entry whose term differs from ours (or is new); 0 if none."""
        for e in entries:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest index <= ``index`` whose term is <= ``term``, with that term.

        This lets a follower's rejection skip a whole term of mismatching entries at
        once instead of one index per round trip. Stops at the first index whose
        term we no longer know (compacted), returning term 0 there.
        """
        floor = self.first_index() - 1
        while index > floor:  # bounded: at most index - floor steps, all local
            t = self.term(index)
            if t is None:
                return index, 0
            if t <= term:
                return index, t
            index -= 1
        t = self.term(floor)
        return floor, t if t is not None else 0

    def append(self, entries: Sequence[Entry]) -> int:
        """Put ``entries`` into the unstable tail, truncating any conflicting suffix."""
        if not entries:
            return self.last_index()
        after = entries[0].index
        if after - 1 < self.committed:
            raise InvariantViolation(f"truncating committed entries at {after} <= {self.committed}")
        if after == self.offset + len(self.unstable):
            self.unstable.extend(entries)
        elif after <= self.offset:
            # Replaces part of the stable log too: storage.append truncates it.
            self.offset = after
            self.unstable = list(entries)
        else:
            del self.unstable[after - self.offset :]
            self.unstable.extend(entries)
        return self.last_index()

    def maybe_append(
        self, index: int, log_term: int, committed: int, entries: Sequence[Entry]
    ) -> tuple[int, list[Entry]] | None:
        """Follower side of AppendEntries (paper 5.3).

        Returns (last new index, entries actually appended) if our entry at
        ``index`` has ``log_term``, else None (the consistency check failed).
        """
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(entries)
        conflict = self.find_conflict(entries)
        appended: list[Entry] = []
        if conflict:
            if conflict <= self.committed:
                raise InvariantViolation(
                    f"entry {conflict} conflicts with committed log (commit {self.committed})"
                )
            appended = list(entries[conflict - index - 1 :])
            self.append(appended)
        self.commit_to(min(committed, last_new))
        return last_new, appended

    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise InvariantViolation(f"commit {index} beyond last index {self.last_index()}")
            self.committed = index

    def applied_to(self, index: int) -> None:
        if index > self.committed or index < self.applied:
            raise InvariantViolation(f"applied {index} outside [{self.applied}, {self.committed}]")
        self.applied = index

    def stable_to(self, index: int, term: int) -> None:
        """Entries up to ``index`` (of ``term``) are now persisted by the caller."""
        if index < self.offset or self.term(index) != term:
            return  # overwritten since that Ready: the newer entries stay unstable
        self.unstable = self.unstable[index + 1 - self.offset :]
        self.offset = index + 1

    def stable_snapshot_to(self, index: int) -> None:
        if self.unstable_snapshot is not None and self.unstable_snapshot.meta.index == index:
            self.unstable_snapshot = None

    def restore(self, snapshot: Snapshot) -> None:
        """Replace the log by a leader's snapshot (to persist with the next Ready)."""
        self.committed = snapshot.meta.index
        self.unstable = []
        self.offset = snapshot.meta.index + 1
        self.unstable_snapshot = snapshot
