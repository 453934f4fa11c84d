"""RawNode: the API a node driver uses to run the Raft core.

The driver's loop, one pass at a time:

1. feed input: ``tick()`` every tick, ``step(msg)`` for every message received,
   ``propose(...)`` / ``propose_batch(...)`` / ``propose_conf_change(...)``;
2. ``if node.has_ready(): rd = node.ready()``;
3. persist, atomically and durably: ``rd.snapshot`` (``storage.apply_snapshot``),
   ``rd.entries`` (``storage.append``), ``rd.hard_state`` (``storage.set_hard_state``);
4. only then send ``rd.messages`` (votes and acks in them promise step 3);
5. apply ``rd.snapshot`` then ``rd.committed_entries`` to the state machine, in order;
6. ``node.advance(rd)``.

Steps 1 may run between ``ready()`` and ``advance()``; ``ready()`` may not be
called again before ``advance()``. Nothing here blocks, sleeps or does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mesh.raft.confchange import ConfChange
from mesh.raft.errors import InvariantViolation, SnapshotOutOfDate
from mesh.raft.progress import ProgressState
from mesh.raft.raft import Config, Raft, Rng, Role
from mesh.raft.storage import Storage
from mesh.raft.types import (
    ConfState,
    Entry,
    HardState,
    Message,
    NodeId,
    Snapshot,
    SnapshotMeta,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftState:
    """Volatile state worth showing (the status dot); never persisted."""

    role: Role
    leader: NodeId | None
    term: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """One batch of work for the driver. Field order is the order to handle them in."""

    soft_state: SoftState | None = None
    """Set when role, leader or term changed since the previous Ready."""
    snapshot: Snapshot | None = None
    """A leader's snapshot to persist (``storage.apply_snapshot``), then load into the app."""
    entries: tuple[Entry, ...] = ()
    """Entries to append durably (``storage.append``; it truncates any conflicting suffix)."""
    hard_state: HardState | None = None
    """Term/vote/commit to persist durably, if changed."""
    messages: tuple[Message, ...] = ()
    """To send only after the above is durable."""
    committed_entries: tuple[Entry, ...] = ()
    """To apply to the state machine after persisting, in index order."""

    @property
    def must_sync(self) -> bool:
        """Whether persisting this Ready needs an fsync (vote/term/entries changed)."""
        return bool(self.entries) or self.snapshot is not None or self.hard_state is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class FollowerStatus:
    match: int
    next: int
    state: ProgressState
    paused: bool
    inflight: int
    recent_active: bool
    learner: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Status:
    """What ``ctl status`` shows. ``progress`` is filled on the leader only."""

    id: NodeId
    role: Role
    term: int
    vote: NodeId | None
    leader: NodeId | None
    commit: int
    applied: int
    first_index: int
    last_index: int
    conf: ConfState
    pending_conf_index: int
    lead_transferee: NodeId | None
    progress: Mapping[NodeId, FollowerStatus] = field(default_factory=dict)


class RawNode:
    def __init__(self, config: Config, storage: Storage, rng: Rng) -> None:
        self.raft = Raft(config, storage, rng)
        self._prev_soft = self.soft_state()
        self._prev_hard = self.raft.hard_state()
        self._outstanding = False

    # -- input ------------------------------------------------------------
    def tick(self) -> None:
        self.raft.tick()

    def step(self, message: Message) -> None:
        self.raft.step(message)

    def campaign(self) -> None:
        """Start an election now instead of waiting for the timeout (tests, first boot)."""
        self.raft.hup()

    def propose(self, data: bytes) -> int:
        """Append one command; returns its index. Raises a ProposalRefused (e.g. NotLeader)."""
        return self.raft.propose([data]).start

    def propose_batch(self, datas: Sequence[bytes]) -> range:
        """Append many commands as one replication round; returns their indices."""
        return self.raft.propose(datas)

    def propose_conf_change(self, change: ConfChange) -> int:
        """Append a membership change; refused while another is pending (ConfChangePending)."""
        return self.raft.propose_conf_change(change)

    def transfer_leadership(self, to: NodeId) -> None:
        """Hand leadership to ``to`` (clean shutdown): catch it up, then TIMEOUT_NOW."""
        self.raft.transfer_leadership(to)

    def report_snapshot(self, to: NodeId, *, failed: bool) -> None:
        self.raft.report_snapshot(to, failed=failed)

    # -- output -----------------------------------------------------------
    def soft_state(self) -> SoftState:
        r = self.raft
        return SoftState(role=r.role, leader=r.lead, term=r.term)

    def has_ready(self) -> bool:
        r = self.raft
        return bool(
            r.msgs
            or r.log.unstable
            or r.log.unstable_snapshot is not None
            or r.log.has_next_committed_entries()
            or r.hard_state() != self._prev_hard
            or self.soft_state() != self._prev_soft
        )

    def ready(self) -> Ready:
        if self._outstanding:
            raise InvariantViolation("ready() called again before advance()")
        r = self.raft
        soft, hard = self.soft_state(), r.hard_state()
        rd = Ready(
            soft_state=soft if soft != self._prev_soft else None,
            snapshot=r.log.unstable_snapshot,
            entries=tuple(r.log.unstable),
            hard_state=hard if hard != self._prev_hard else None,
            messages=tuple(r.msgs),
            committed_entries=tuple(r.log.next_committed_entries()),
        )
        r.msgs = []
        self._prev_soft, self._prev_hard = soft, hard
        self._outstanding = True
        return rd

    def advance(self, rd: Ready) -> None:
        """The driver persisted, sent and applied ``rd``."""
        log = self.raft.log
        if rd.snapshot is not None:
            log.stable_snapshot_to(rd.snapshot.meta.index)
            log.applied = max(log.applied, rd.snapshot.meta.index)
        if rd.entries:
            last = rd.entries[-1]
            log.stable_to(last.index, last.term)
        if rd.committed_entries:
            log.applied_to(rd.committed_entries[-1].index)
        self._outstanding = False

    # -- introspection and snapshots -------------------------------------
    def status(self) -> Status:
        r = self.raft
        progress: dict[NodeId, FollowerStatus] = {}
        if r.role is Role.LEADER:
            for nid, pr in sorted(r.progress.items()):
                progress[nid] = FollowerStatus(
                    match=pr.match,
                    next=pr.next,
                    state=pr.state,
                    paused=pr.is_paused(),
                    inflight=pr.inflights.count(),
                    recent_active=pr.recent_active,
                    learner=pr.is_learner,
                )
        return Status(
            id=r.id,
            role=r.role,
            term=r.term,
            vote=r.vote,
            leader=r.lead,
            commit=r.log.committed,
            applied=r.log.applied,
            first_index=r.log.first_index(),
            last_index=r.log.last_index(),
            conf=r.conf,
            pending_conf_index=r.pending_conf_index(),
            lead_transferee=r.lead_transferee,
            progress=progress,
        )

    def snapshot_at(self, index: int, data: bytes) -> Snapshot:
        """Build the snapshot to pass to ``storage.compact`` for state ``data`` as of ``index``.

        ``index`` must be applied already and newer than the stored snapshot; the
        term and configuration at ``index`` are filled in from the log.
        """
        log = self.raft.log
        if not log.first_index() <= index <= log.applied:
            raise SnapshotOutOfDate(
                f"snapshot index {index} outside [{log.first_index()}, applied {log.applied}]"
            )
        term = log.term(index)
        if term is None:
            raise SnapshotOutOfDate(f"term of index {index} unknown")
        meta = SnapshotMeta(index=index, term=term, conf=self.raft.conf_at(index))
        return Snapshot(meta=meta, data=data)
