"""One device's copy of the mesh: the Raft core, its SQLite store and the ledger, glued.

``Replica`` runs the etcd-style loop of ``mesh.raft.rawnode`` without any
networking: persist a Ready (one transaction, one fsync), hand back the messages
to send, apply committed entries to the ledger, advance. ``mesh.node.node``
drives it from asyncio and does the sending; tests can drive it directly.

Restart: the ledger is restored from the latest snapshot in the store, then the
committed entries after it are replayed, so a restart never replays the whole
day. Every ``snapshot_every`` applied entries the ledger is snapshotted and the
log compacted up to it.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mesh.ledger.apply import apply
from mesh.ledger.entry import Outcome, decode_payload
from mesh.ledger.state import LedgerState
from mesh.node import constants
from mesh.node.roster import Roster, decode_record, is_record
from mesh.node.store import SQLiteStorage
from mesh.raft.confchange import ConfChange
from mesh.raft.raft import Config, Rng, Role
from mesh.raft.rawnode import RawNode, Ready, Status
from mesh.raft.storage import bootstrap
from mesh.raft.types import Entry, EntryKind, HardState, Message, MessageType, Snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Applied:
    """A committed entry and, for a command, what applying it did."""

    entry: Entry
    outcome: Outcome | None
    # The token of the submit that wrote the entry, when it is the id's
    # first application (a replay's entry applies the first outcome again).
    writer: str | None = None


SNAPSHOT_CODEC_V1 = b"z1"  # zlib over the ledger's canonical JSON; a day's state shrinks ~10x
SNAPSHOT_CODEC = b"z2"  # zlib over: 4-byte length, the roster's JSON, the ledger's JSON


def encode_snapshot(ledger: LedgerState, roster: Roster | None = None) -> bytes:
    # Level 1: most of the size win for a fraction of the time; snapshots are taken
    # on the loop and sent whole to a lagging follower, so both matter.
    head = json.dumps((roster or Roster()).to_json(), sort_keys=True).encode()
    body = len(head).to_bytes(4, "big") + head + ledger.snapshot()
    return SNAPSHOT_CODEC + zlib.compress(body, 1)


def decode_snapshot(data: bytes) -> tuple[LedgerState, Roster]:
    if data.startswith(SNAPSHOT_CODEC_V1):
        return LedgerState.restore(zlib.decompress(data[len(SNAPSHOT_CODEC_V1) :])), Roster()
    if not data.startswith(SNAPSHOT_CODEC):
        raise ValueError("not a tablemesh snapshot (unknown codec)")
    body = zlib.decompress(data[len(SNAPSHOT_CODEC) :])
    size = int.from_bytes(body[:4], "big")
    roster = Roster.from_json(json.loads(body[4 : 4 + size]))
    return LedgerState.restore(body[4 + size :]), roster


def _apply_entry(ledger: LedgerState, roster: Roster, entry: Entry) -> Applied:
    """Apply one committed Raft entry (no outcome for entries without a ledger command)."""
    if entry.kind is not EntryKind.NORMAL or not entry.data or is_record(entry.data):
        # Membership changes, roster records and a new leader's empty entry still move
        # the ledger's applied index, identically on every node, so state hashes stay
        # comparable.
        if entry.kind is EntryKind.NORMAL and entry.data:
            record = decode_record(entry.data)
            if record is None:
                log.error("committed roster record is malformed", extra={"index": entry.index})
            elif roster.apply(record):
                log.warning("roster changed", extra={"index": entry.index, **record})
        ledger.applied_index = max(ledger.applied_index, entry.index)
        return Applied(entry, None)
    try:
        payload = decode_payload(entry.data, index=entry.index, term=entry.term)
    except ValueError:
        log.error("committed entry is not a ledger command", extra={"index": entry.index})
        ledger.applied_index = max(ledger.applied_index, entry.index)
        return Applied(entry, None)
    outcome = apply(ledger, payload)
    return Applied(entry, outcome, None if outcome.duplicate else payload.writer)


_LEADER_MESSAGES = frozenset({MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT})


@dataclass(frozen=True, slots=True)
class WritePlan:
    """What one Ready needs on disk."""

    snapshot: Snapshot | None
    entries: tuple[Entry, ...]
    hard_state: HardState | None


class Replica:
    def __init__(
        self,
        *,
        node_id: str,
        store: SQLiteStorage,
        voters: Sequence[str],
        learners: Sequence[str],
        rng: Rng,
        snapshot_every: int = constants.SNAPSHOT_EVERY,
        lost_marker: Path | None = None,
    ) -> None:
        """``lost_marker``: a file whose presence says this node's store was lost; the
        Raft core then abstains from votes until a leader has caught it up, and the
        file is removed once that is durable (so a restart mid-recovery still knows)."""
        self.node_id = node_id
        self.lost_marker = lost_marker
        lost = lost_marker is not None and lost_marker.exists()
        self._marked_lost = lost
        self.snapshot_every = snapshot_every
        # When True the driver makes snapshots itself, off its loop (see
        # ``snapshot_due``); ``finish`` then never serializes the ledger.
        self.snapshots_elsewhere = False
        self._unsaved_hard_state: HardState | None = None
        self._held: tuple[Ready, WritePlan | None] | None = None  # taken from Raft, not finished
        # What the disk has been asked to do, for `ctl status` and the benchmarks.
        self.stats = {"readies": 0, "syncs": 0, "entries_synced": 0, "sync_seconds": 0.0}
        self.store = store
        if store.last_index() == 0 and store.initial_state()[0].term == 0 and voters:
            # A founding device writes the founding configuration. An enrolled one
            # (no voters in its node.json) starts empty: the leader sends it the log
            # from index 1, or a snapshot, once it has added it as a learner.
            bootstrap(store, voters, learners)
        self.roster = Roster()
        # Bumped whenever a snapshot replaces the roster, so that (epoch, changes)
        # names one roster state: the node compares it to know when to re-enforce.
        self.roster_epoch = 0
        self.ledger = self._restore_ledger()
        self.raw = RawNode(
            Config(
                id=node_id,
                election_tick=constants.ELECTION_TICKS,
                heartbeat_tick=constants.HEARTBEAT_TICKS,
                max_inflight=constants.MAX_INFLIGHT,
                max_size_per_msg=constants.MAX_MSG_BYTES,
                applied=self.ledger.applied_index,
                lost_state=lost,
            ),
            store,
            rng,
        )

    def _restore_ledger(self) -> LedgerState:
        snap = self.store.snapshot()
        if snap.meta.index > 0:
            ledger, self.roster = decode_snapshot(snap.data)
        else:
            ledger = LedgerState()
        ledger.applied_index = max(ledger.applied_index, snap.meta.index)
        commit = self.store.initial_state()[0].commit
        start = snap.meta.index + 1
        if commit >= start:
            for entry in self.store.entries(start, commit + 1):
                if entry.index > ledger.applied_index:
                    _apply_entry(ledger, self.roster, entry)
        log.info(
            "ledger restored",
            extra={"snapshot_index": snap.meta.index, "replayed_to": ledger.applied_index},
        )
        return ledger

    # -- input -----------------------------------------------------------------
    def tick(self) -> None:
        self.raw.tick()

    def step(self, message: Message) -> None:
        self.raw.step(message)

    def propose(self, datas: Sequence[bytes]) -> range:
        return self.raw.propose_batch(datas)

    def propose_conf_change(self, change: ConfChange) -> int:
        """One membership change (leader only); raises ProposalRefused while one is pending."""
        return self.raw.propose_conf_change(change)

    # -- the loop --------------------------------------------------------------
    # One Ready at a time, in three steps, so that the driver can run the middle
    # one (the fsync) on a worker thread while the event loop keeps receiving:
    #   rd = next_ready(); plan = plan_write(rd)
    #   send early_messages(rd)          (a leader's appends need not wait for its disk)
    #   write(plan)                      (worker thread; may raise: then retry it)
    #   applied = finish(rd, plan); send late_messages(rd)

    def has_ready(self) -> bool:
        """True if ``next_ready`` would give a Ready (one held back by a failed write too)."""
        return self._held is not None or self.raw.has_ready()

    def next_ready(self) -> Ready | None:
        if self._held is not None:
            return self._held[0]
        if not self.raw.has_ready():
            return None
        rd = self.raw.ready()
        self.stats["readies"] += 1
        self._held = (rd, self.plan_write(rd))
        return rd

    def plan_for(self, rd: Ready) -> WritePlan | None:
        assert self._held is not None and self._held[0] is rd
        return self._held[1]

    def plan_write(self, rd: Ready) -> WritePlan | None:
        """What ``rd`` needs on disk, or None when nothing needs an fsync.

        A change of the commit index alone is not worth an fsync (etcd's MustSync
        rule): it is kept and written with the next batch that needs one. After a
        crash the node restarts from an older commit index and Raft tells it again.
        """
        hs = rd.hard_state
        if hs is not None:
            self._unsaved_hard_state = hs
        stored = self.store.hard_state
        vote_changed = hs is not None and (hs.term, hs.vote) != (stored.term, stored.vote)
        if not (rd.entries or rd.snapshot is not None or vote_changed):
            return None
        return WritePlan(
            snapshot=rd.snapshot, entries=rd.entries, hard_state=self._unsaved_hard_state
        )

    @staticmethod
    def early_messages(rd: Ready) -> list[Message]:
        """Messages that promise nothing about this node's disk: a leader's appends.

        The leader counts itself toward a commit before its own fsync ends, but the
        new commit index can only leave in a later Ready, after this one is on disk
        (Raft thesis 10.2.1; etcd's rule for Ready.Messages).
        """
        return [m for m in rd.messages if m.type in _LEADER_MESSAGES]

    @staticmethod
    def late_messages(rd: Ready) -> list[Message]:
        """Votes and acknowledgements: sent only once what they promise is on disk."""
        return [m for m in rd.messages if m.type not in _LEADER_MESSAGES]

    def write(self, plan: WritePlan) -> None:
        """The fsync. Runs on the loop or on a worker thread (the node decides); touches
        only SQL, never the caches, so a thread may run it while the loop reads them."""
        started = time.perf_counter()
        self.store.write_ready(plan.snapshot, plan.entries, plan.hard_state)
        self.stats["syncs"] += 1
        self.stats["entries_synced"] += len(plan.entries)
        self.stats["sync_seconds"] += time.perf_counter() - started

    def finish(self, rd: Ready) -> list[Applied]:
        """After ``write``: update the caches, apply what is committed, advance."""
        assert self._held is not None and self._held[0] is rd
        plan = self._held[1]
        self._held = None
        if plan is not None:
            self.store.absorb_ready(plan.snapshot, plan.entries, plan.hard_state)
            if plan.hard_state is self._unsaved_hard_state:
                self._unsaved_hard_state = None
        applied: list[Applied] = []
        if rd.snapshot is not None:
            self.ledger, self.roster = decode_snapshot(rd.snapshot.data)
            self.roster_epoch += 1
            self.ledger.applied_index = max(self.ledger.applied_index, rd.snapshot.meta.index)
        for entry in rd.committed_entries:
            if entry.index <= self.ledger.applied_index:
                continue
            applied.append(_apply_entry(self.ledger, self.roster, entry))
        self.raw.advance(rd)
        self._note_recovery()
        try:
            if not self.snapshots_elsewhere:
                self._maybe_compact()
        except Exception:
            # A snapshot only saves replay time: the log it would have replaced is
            # still whole, so the node keeps serving and tries again at the next apply.
            log.exception("could not take a snapshot; will retry")
        return applied

    def _note_recovery(self) -> None:
        """Keep the lost-state marker in step with the Raft core's recovery flag."""
        recovering = self.raw.raft.recovering
        if recovering == self._marked_lost or self.lost_marker is None:
            return
        if recovering:
            # The core saw a leader's commit past our log: entries we had persisted
            # are gone. Abstain from votes (also across a restart) until caught up.
            log.error("this node lost entries it had stored: abstaining from votes until caught up")
            self.lost_marker.touch()
        else:
            log.warning("caught up with the leader after losing stored entries: a full member")
            self.lost_marker.unlink(missing_ok=True)
        self._marked_lost = recovering

    def process(self) -> tuple[list[Message], list[Applied]]:
        """Every pending Ready, synchronously (the fsync on this thread); for tests and tools."""
        messages: list[Message] = []
        applied: list[Applied] = []
        while (rd := self.next_ready()) is not None:
            plan = self.plan_for(rd)
            if plan is not None:
                self.write(plan)
            messages.extend(rd.messages)
            applied.extend(self.finish(rd))
        return messages, applied

    def _flush_hard_state(self) -> None:
        if self._unsaved_hard_state is not None:
            self.store.set_hard_state(self._unsaved_hard_state)
            self._unsaved_hard_state = None

    def flush(self) -> None:
        """Write what was kept back (the latest commit index); on clean shutdown."""
        self._flush_hard_state()

    def snapshot_due(self) -> bool:
        return self.ledger.applied_index - self.store.snapshot().meta.index >= self.snapshot_every

    def snapshot_work(self) -> tuple[int, Callable[[], bytes]]:
        """The applied index now, and a function that encodes the state as it is now.

        The function reads the live ledger: call it in a process forked at once
        (``mesh.node.background``), whose copy no later apply can change.
        """
        ledger, roster = self.ledger, self.roster
        return ledger.applied_index, lambda: encode_snapshot(ledger, roster)

    def compact_to(self, index: int, data: bytes) -> bool:
        """Store ``data`` (the state as of ``index``) as the snapshot and compact the log
        up to it. False if a newer snapshot came first (one from the leader)."""
        if index <= self.store.snapshot().meta.index:
            return False
        snap = self.raw.snapshot_at(index, data)
        with self.store.batch():
            # The snapshot's index must never be ahead of the commit index on disk.
            self._flush_hard_state()
            self.store.compact(snap)
        log.info("snapshot taken", extra={"index": index, "bytes": len(snap.data)})
        return True

    def _maybe_compact(self) -> None:
        if self.snapshot_due():
            index, work = self.snapshot_work()
            self.compact_to(index, work())

    # -- what others read ------------------------------------------------------
    def status(self) -> Status:
        return self.raw.status()

    def roster_mark(self) -> tuple[int, int]:
        """Names the roster's current state (see ``roster_epoch``)."""
        return (self.roster_epoch, self.roster.changes)

    @property
    def voters(self) -> frozenset[str]:
        """The voters in force: what ``status()`` says, without building all of it."""
        return self.raw.raft.conf.voters

    @property
    def role(self) -> Role:
        return self.raw.raft.role

    @property
    def leader(self) -> str | None:
        return self.raw.raft.lead

    @property
    def term(self) -> int:
        return self.raw.raft.term

    def report_snapshot(self, to: str, *, failed: bool) -> None:
        self.raw.report_snapshot(to, failed=failed)

    def transfer_leadership(self, to: str) -> None:
        self.raw.transfer_leadership(to)
