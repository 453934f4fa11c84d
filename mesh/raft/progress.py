"""How the leader tracks each follower's replication (etcd's tracker, simplified).

Rules (one state per follower, ``Progress.state``):
- PROBE: we do not know where the follower's log matches ours. Send one append
  at ``next``, then pause until it answers (or a heartbeat reply arrives).
- REPLICATE: the follower is in step. Send optimistically, advancing ``next``
  past what was sent; at most ``max_inflight`` appends are unacknowledged.
- SNAPSHOT: the follower needs entries we compacted. A snapshot is on its way;
  send nothing else until it is acknowledged, or until an election timeout
  passes without news (the snapshot was probably lost) and we probe again.
"""

from __future__ import annotations

import enum
from collections import deque


class ProgressState(enum.Enum):
    PROBE = "probe"
    REPLICATE = "replicate"
    SNAPSHOT = "snapshot"


class Inflights:
    """The last index of each unacknowledged append, oldest first, up to a capacity."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._last_indices: deque[int] = deque()

    def add(self, last_index: int) -> None:
        if self.full():
            raise OverflowError("inflights full")
        self._last_indices.append(last_index)

    def free_le(self, index: int) -> None:
        """An ack up to ``index`` frees every append that ended at or before it."""
        q = self._last_indices
        while q and q[0] <= index:  # bounded by capacity
            q.popleft()

    def free_first_one(self) -> None:
        if self._last_indices:
            self._last_indices.popleft()

    def full(self) -> bool:
        return len(self._last_indices) >= self.capacity

    def count(self) -> int:
        return len(self._last_indices)

    def reset(self) -> None:
        self._last_indices.clear()


class Progress:
    def __init__(self, *, next_index: int, max_inflight: int, is_learner: bool) -> None:
        self.match = 0
        self.next = next_index
        self.state = ProgressState.PROBE
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0  # ticks since the snapshot was sent
        self.recent_active = False
        self.is_learner = is_learner
        self.inflights = Inflights(max_inflight)

    def _reset_state(self, state: ProgressState) -> None:
        self.state = state
        self.probe_sent = False
        self.pending_snapshot = 0
        self.snapshot_elapsed = 0
        self.inflights.reset()

    def become_probe(self) -> None:
        if self.state is ProgressState.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(ProgressState.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(ProgressState.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, index: int) -> bool:
        """The follower acknowledged everything up to ``index``. True if that is news."""
        updated = False
        if self.match < index:
            self.match = index
            updated = True
            self.probe_sent = False
        self.next = max(self.next, index + 1)
        return updated

    def forget_match(self, last_index: int) -> None:
        """The follower lost its durable state and its log now ends at ``last_index``."""
        self._reset_state(ProgressState.PROBE)
        self.match = 0
        self.next = max(1, last_index + 1)

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """The follower rejected an append whose previous entry was ``rejected``.

        Returns False for a stale rejection (one we already acted upon).
        ``match_hint`` is where the follower's log may match (term-skipping).
        """
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        if self.state is ProgressState.PROBE:
            return self.probe_sent
        if self.state is ProgressState.REPLICATE:
            return self.inflights.full()
        return True

    def sent_entries(self, last_sent: int | None) -> None:
        """Record an append just sent; ``last_sent`` is its last entry's index (None if empty)."""
        if self.state is ProgressState.REPLICATE:
            if last_sent is not None:
                self.next = last_sent + 1
                self.inflights.add(last_sent)
        elif self.state is ProgressState.PROBE:
            self.probe_sent = True
