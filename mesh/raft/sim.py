"""A seeded, hostile, fully deterministic cluster simulator that tries to break the core.

``python -m mesh.raft.sim --seeds N [--nodes K] [--steps S] [--seed X]``
(``--seed X`` alone replays exactly that one history.)

Each seed runs one history of 3, 5 or 7 nodes (``RawNode`` + ``MemoryStorage`` as
the disk) joined by an in-memory network that loses, duplicates and reorders
messages, and partitions nodes (both ways or one way). Nodes tick at different
rates, crash (losing everything not persisted, also halfway through a Ready),
restart, compact their logs, and the leader changes membership and hands over
leadership. After every step the checker verifies Raft's safety properties; then
faults stop and the checker demands an elected leader and committed proposals
within a bounded number of ticks. The first broken property stops the run with
the seed, the property and the last events: the same seed replays exactly.

This module is a test harness beside the pure core: it alone in ``mesh.raft``
may use ``random`` (seeded) and print.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from mesh.raft.confchange import ConfChange, ConfChangeType, apply_conf_change
from mesh.raft.errors import ProposalRefused, RaftError
from mesh.raft.raft import Config, Role
from mesh.raft.rawnode import RawNode, Ready
from mesh.raft.storage import MemoryStorage, bootstrap
from mesh.raft.types import ConfState, Entry, EntryKind, Message, MessageType, NodeId

ELECTION_TICK = 10
SPARE_NODES = 2  # ids that may join during a history
ELECT_BOUND_TICKS = 30 * ELECTION_TICK  # liveness: a leader within this many ticks of healing
COMMIT_BOUND_TICKS = 10 * ELECTION_TICK  # liveness: proposals applied everywhere within this
DELIVERY_PASSES = 64  # liveness phase: network drain passes per tick round
PROPOSALS_AFTER_HEAL = 3


class Violation(Exception):
    def __init__(self, prop: str, detail: str) -> None:
        self.prop = prop
        self.detail = detail
        super().__init__(f"{prop}: {detail}")


@dataclass
class SimNode:
    id: NodeId
    storage: MemoryStorage
    raw: RawNode | None = None
    incarnation: int = 0
    tick_rate: float = 1.0
    digest: bytes = b""  # the state machine: a hash chain over applied entries
    applied: int = 0
    persisted_commit: int = 0
    last_term_seen: int = 0
    persisted_conf: ConfState = field(default_factory=ConfState)


@dataclass
class SimStats:
    steps: int = 0
    delivered: int = 0
    dropped: int = 0
    crashes: int = 0
    restarts: int = 0
    elections: int = 0
    conf_changes: int = 0
    transfers: int = 0
    compactions: int = 0
    snapshots_sent: int = 0
    committed: int = 0
    elect_ticks_after_heal: int = 0
    live_with_one_down: int = 0


def _digest(prev: bytes, e: Entry) -> bytes:
    h = hashlib.blake2b(prev, digest_size=16)
    h.update(f"|{e.index}|{e.term}|{e.kind.value}|".encode())
    h.update(e.data)
    return h.digest()


def _fmt_conf(conf: ConfState) -> str:
    return f"voters={sorted(conf.voters)} learners={sorted(conf.learners)}"


def _conf_of_storage(s: MemoryStorage) -> ConfState:
    conf = s.snapshot().meta.conf
    for e in s.entries(s.first_index(), s.last_index() + 1):
        if e.kind is EntryKind.CONF_CHANGE:
            conf = apply_conf_change(conf, ConfChange.decode(e.data))
    return conf


class Simulation:
    """One history. ``run()`` raises Violation or returns the stats."""

    def __init__(self, seed: int, nodes: int, steps: int) -> None:
        self.seed = seed
        self.steps = steps
        self.rng = random.Random(seed)
        self.ids = [f"n{i}" for i in range(1, nodes + 1)]
        self.spares = [f"n{i}" for i in range(nodes + 1, nodes + 1 + SPARE_NODES)]
        self.network: list[Message] = []
        self.blocked: set[tuple[NodeId, NodeId]] = set()
        self.drop_rate = self.rng.choice([0.0, 0.02, 0.1, 0.25])
        self.dup_rate = self.rng.choice([0.0, 0.02, 0.1])
        self.mid_ready_crash_rate = self.rng.choice([0.0, 0.002, 0.01])
        # Small messages split appends entry by entry (so an old-term entry can be
        # acknowledged before the new leader's empty entry: the figure 8 setting).
        self.max_size_per_msg = self.rng.choice([1, 100, 1 << 20])
        self.max_inflight = self.rng.choice([1, 2, 8, 64])
        self.churn = self.rng.choice([1, 1, 3, 8])  # how often crashes and partitions come
        # The leader killer (one seed in two): a leader whose first entry is not
        # committed yet is cut down with this chance after every step. Elections then
        # pile up on half-replicated logs, the ground figure 8 needs.
        self.fresh_leader_kill_rate = self.rng.choice([0.0, 0.0, 0.1, 0.3])
        self.nodes: dict[NodeId, SimNode] = {}
        for nid in self.ids:
            storage = MemoryStorage()
            bootstrap(storage, self.ids)
            self._add_node(nid, storage)
        self.faults = True
        self.kept_down: set[NodeId] = set()
        self.trace: deque[str] = deque(maxlen=50)
        self.stats = SimStats()
        self.step_no = 0
        # Global knowledge the checker accumulates.
        self.leader_of_term: dict[int, NodeId] = {}
        self.entry_at: dict[tuple[int, int], tuple[int, EntryKind, bytes]] = {}
        self.committed: dict[int, int] = {}  # index -> term, once any node persisted commit
        self.applied_digest: dict[int, bytes] = {}
        self.applied_entry: dict[int, tuple[int, EntryKind, bytes]] = {}

    # -- cluster management ----------------------------------------------
    def _add_node(self, nid: NodeId, storage: MemoryStorage) -> SimNode:
        node = SimNode(id=nid, storage=storage, tick_rate=self.rng.choice([0.5, 0.8, 1.0]))
        self.nodes[nid] = node
        self._start(node)
        return node

    def _start(self, node: SimNode) -> None:
        node.incarnation += 1
        core_rng = random.Random(f"{self.seed}:{node.id}:{node.incarnation}")
        config = Config(
            id=node.id,
            election_tick=ELECTION_TICK,
            max_size_per_msg=self.max_size_per_msg,
            max_inflight=self.max_inflight,
        )
        node.raw = RawNode(config, node.storage, core_rng)
        snap = node.storage.snapshot()
        node.digest, node.applied = snap.data, snap.meta.index
        hs = node.storage.hard_state
        node.persisted_commit = hs.commit
        node.last_term_seen = hs.term
        node.persisted_conf = _conf_of_storage(node.storage)

    def _crash(self, node: SimNode, why: str) -> None:
        node.raw = None
        if self.rng.random() < 0.5:
            # Its send queues (ZeroMQ's live in the process) die with it.
            self.network = [m for m in self.network if m.frm != node.id]
        self.stats.crashes += 1
        self.log(f"crash {node.id} ({why})")

    def log(self, event: str) -> None:
        self.trace.append(f"[{self.step_no}] {event}")

    def live(self) -> list[SimNode]:
        return [n for n in self.nodes.values() if n.raw is not None]

    def leaders(self) -> list[SimNode]:
        return [n for n in self.live() if n.raw is not None and n.raw.raft.role is Role.LEADER]

    # -- the Ready loop, with the checks that belong to persisting/sending -
    def process_ready(self, node: SimNode) -> None:
        raw = node.raw
        if raw is None or not raw.has_ready():
            return
        rd = raw.ready()
        if self.faults and self.rng.random() < self.mid_ready_crash_rate:
            self._crash(node, "before persisting a Ready")
            return
        self._persist(node, rd)
        if self.faults and self.rng.random() < self.mid_ready_crash_rate:
            self._crash(node, "after persisting, before sending")
            return
        for m in rd.messages:
            self._check_promise(node, m)
            if m.type is MessageType.SNAPSHOT:
                self.stats.snapshots_sent += 1
            self.network.append(m)
        self._apply(node, rd)
        raw.advance(rd)
        if rd.soft_state is not None and rd.soft_state.role is Role.LEADER:
            self.stats.elections += 1
            self.log(f"{node.id} leader term {rd.soft_state.term}")
            self._check_leader_completeness(node)

    def _persist(self, node: SimNode, rd: Ready) -> None:
        s, raw = node.storage, node.raw
        assert raw is not None
        if rd.entries:
            first = rd.entries[0].index
            if raw.raft.role is Role.LEADER and first <= s.last_index():
                raise Violation("leader append-only", f"leader {node.id} overwrites from {first}")
            if first <= node.persisted_commit:
                raise Violation(
                    "committed entries never change",
                    f"{node.id} overwrites index {first} <= its commit {node.persisted_commit}",
                )
        overwrites = bool(rd.entries) and rd.entries[0].index <= s.last_index()
        if rd.snapshot is not None:
            s.apply_snapshot(rd.snapshot)
        s.append(rd.entries)
        for e in rd.entries:
            self._check_log_matching(node, e)
        if rd.hard_state is not None:
            old = s.hard_state
            new = rd.hard_state
            if new.term < old.term:
                raise Violation(
                    "term monotonic", f"{node.id} persisted term {new.term} < {old.term}"
                )
            if new.commit < old.commit:
                raise Violation(
                    "commit monotonic", f"{node.id} persisted commit {new.commit} < {old.commit}"
                )
            if new.term == old.term and old.vote is not None and new.vote != old.vote:
                raise Violation(
                    "one vote per term",
                    f"{node.id} term {new.term} vote {old.vote} -> {new.vote}",
                )
            s.set_hard_state(new)
            self._record_commit(node, old.commit, new.commit)
            node.persisted_commit = new.commit
        new_conf = any(e.kind is EntryKind.CONF_CHANGE for e in rd.entries)
        if rd.snapshot is not None or new_conf or overwrites:
            # Recomputed from the disk alone: the core must agree (config on append).
            node.persisted_conf = _conf_of_storage(s)

    def _check_log_matching(self, node: SimNode, e: Entry) -> None:
        prev_term = node.storage.term(e.index - 1)
        seen = self.entry_at.setdefault((e.index, e.term), (prev_term, e.kind, e.data))
        if seen != (prev_term, e.kind, e.data):
            raise Violation(
                "log matching",
                f"{node.id} entry ({e.index}, term {e.term}) differs from another node's "
                f"(prev term {prev_term} vs {seen[0]}, or content)",
            )

    def _record_commit(self, node: SimNode, old: int, new: int) -> None:
        s = node.storage
        for i in range(max(old + 1, s.first_index()), new + 1):
            term = s.term(i)
            known = self.committed.setdefault(i, term)
            if known != term:
                raise Violation(
                    "committed entries never change",
                    f"{node.id} committed index {i} with term {term}, earlier committed {known}",
                )
        if new > self.stats.committed:
            self.stats.committed = new

    def _check_promise(self, node: SimNode, m: Message) -> None:
        """Nothing leaves a node that promises state not yet on its disk."""
        hs, s = node.storage.hard_state, node.storage
        future_term = m.type is MessageType.PRE_VOTE or (
            m.type is MessageType.PRE_VOTE_RESP and not m.reject
        )
        if not future_term and m.term > hs.term:
            raise Violation(
                "persist before send", f"{node.id} sends term {m.term} > disk {hs.term}"
            )
        # A vote for ``c`` in term t is kept by a disk holding (t, c) or any later term:
        # a node never votes in a term below the one it has persisted.
        granted = m.type is MessageType.VOTE_RESP and not m.reject
        if granted and hs.term <= m.term and (hs.term, hs.vote) != (m.term, m.to):
            raise Violation(
                "persist before send",
                f"{node.id} grants vote to {m.to} in term {m.term}, disk has "
                f"term {hs.term} vote {hs.vote}",
            )
        if (
            m.type is MessageType.VOTE
            and hs.term <= m.term
            and (hs.term, hs.vote) != (m.term, node.id)
        ):
            raise Violation(
                "persist before send", f"{node.id} campaigns without its own vote on disk"
            )
        if m.type is MessageType.APPEND_RESP and not m.reject and m.index > s.last_index():
            raise Violation(
                "persist before send",
                f"{node.id} acks index {m.index}, disk has up to {s.last_index()}",
            )
        if m.type is MessageType.APPEND and m.entries and m.entries[-1].index > s.last_index():
            raise Violation("persist before send", f"{node.id} replicates entries not on its disk")

    def _apply(self, node: SimNode, rd: Ready) -> None:
        if rd.snapshot is not None:
            node.digest, node.applied = rd.snapshot.data, rd.snapshot.meta.index
            self._check_digest(node)
        for e in rd.committed_entries:
            if e.index != node.applied + 1:
                raise Violation(
                    "apply in order", f"{node.id} applies {e.index} after {node.applied}"
                )
            seen = self.applied_entry.setdefault(e.index, (e.term, e.kind, e.data))
            if seen != (e.term, e.kind, e.data):
                raise Violation(
                    "state machine safety",
                    f"{node.id} applies ({e.index}, term {e.term}); another applied term {seen[0]}",
                )
            node.digest = _digest(node.digest, e)
            node.applied = e.index
            self._check_digest(node)

    def _check_digest(self, node: SimNode) -> None:
        known = self.applied_digest.setdefault(node.applied, node.digest)
        if known != node.digest:
            raise Violation(
                "state machine safety", f"{node.id} state at {node.applied} differs from another's"
            )

    def _check_leader_completeness(self, node: SimNode) -> None:
        assert node.raw is not None
        log = node.raw.raft.log
        lo = log.first_index()
        # Indices below ``lo`` are inside its snapshot, which holds committed state only.
        for i, term in self.committed.items():
            if i >= lo and log.term(i) != term:
                raise Violation(
                    "leader completeness",
                    f"new leader {node.id} (term {node.raw.raft.term}) lacks committed "
                    f"({i}, term {term}); has term {log.term(i)}",
                )

    # -- checks after every step -----------------------------------------
    def check_step(self) -> None:
        for node in self.live():
            raw = node.raw
            assert raw is not None
            r = raw.raft
            if r.term < node.last_term_seen:
                raise Violation(
                    "term monotonic", f"{node.id} term {node.last_term_seen} -> {r.term}"
                )
            node.last_term_seen = r.term
            if r.role is Role.LEADER:
                other = self.leader_of_term.setdefault(r.term, node.id)
                if other != node.id:
                    raise Violation(
                        "election safety", f"two leaders in term {r.term}: {other} and {node.id}"
                    )
                uncommitted_confs = [h for h in r.conf_history[1:] if h[0] > r.log.committed]
                if len(uncommitted_confs) > 1:
                    raise Violation(
                        "one pending conf change", f"leader {node.id} has {uncommitted_confs}"
                    )
            if r.conf != node.persisted_conf:
                raise Violation(
                    "config from the log",
                    f"{node.id} uses {_fmt_conf(r.conf)}, its log says "
                    f"{_fmt_conf(node.persisted_conf)}",
                )

    # -- actions ---------------------------------------------------------
    def _pump(self) -> None:
        for node in list(self.nodes.values()):
            self.process_ready(node)
        self.check_step()

    def act(self) -> None:
        self.step_no += 1
        self.stats.steps += 1
        c = self.churn
        actions: list[tuple[int, str]] = [
            (30, "tick"),
            (45 if self.network else 0, "deliver"),
            (8, "propose"),
            (c, "crash"),
            (c, "crash_leader"),
            (3 * c, "restart"),
            (2 * c, "partition"),
            (2 * c, "heal"),
            (2, "conf"),
            (1, "transfer"),
            (2, "compact"),
        ]
        total = sum(w for w, _ in actions)
        pick = self.rng.randrange(total)
        for weight, name in actions:
            if pick < weight:
                getattr(self, f"_do_{name}")()
                break
            pick -= weight
        self._pump()
        for node in self._fresh_leaders():
            if self.rng.random() < self.fresh_leader_kill_rate:
                self._crash(node, "leader killer")

    def _do_tick(self) -> None:
        for node in self.live():
            if self.rng.random() < node.tick_rate:
                assert node.raw is not None
                node.raw.tick()

    def _deliver_one(self, i: int) -> None:
        m = self.network.pop(i)
        target = self.nodes.get(m.to)
        if self.faults and self.rng.random() < self.dup_rate:
            self.network.append(m)
        lost = self.faults and self.rng.random() < self.drop_rate
        if target is None or target.raw is None or (m.frm, m.to) in self.blocked or lost:
            self.stats.dropped += 1
            return
        self.stats.delivered += 1
        try:
            target.raw.step(m)
        except RaftError as exc:
            raise Violation("core invariant", f"{m.to} stepping {m.type.value}: {exc}") from exc

    def _do_deliver(self) -> None:
        # A burst of random picks: some messages overtake others (reordering) and the
        # ones left behind are delayed until a later step.
        for _ in range(self.rng.randrange(1, len(self.network) + 1)):
            if not self.network:
                break
            self._deliver_one(self.rng.randrange(len(self.network)))

    def _do_propose(self) -> None:
        live = self.live()
        if not live:
            return
        leaders = self.leaders()
        node = (
            self.rng.choice(leaders)
            if leaders and self.rng.random() < 0.9
            else self.rng.choice(live)
        )
        assert node.raw is not None
        count = self.rng.choice([1, 1, 2, 5])
        datas = [f"{self.seed}:{self.step_no}:{k}".encode() for k in range(count)]
        try:
            node.raw.propose_batch(datas)
            self.log(f"propose x{count} on {node.id}")
        except ProposalRefused as exc:
            self.log(f"propose on {node.id} refused: {exc}")

    def _do_crash(self) -> None:
        live = self.live()
        if live:
            self._crash(self.rng.choice(live), "power cut")

    def _fresh_leaders(self) -> list[SimNode]:
        """Leaders whose first entry is not committed yet: the moment figure 8 is about."""
        fresh = []
        for n in self.leaders():
            assert n.raw is not None
            if n.raw.raft.log.committed < n.raw.raft.term_start_index:
                fresh.append(n)
        return fresh

    def _do_crash_leader(self) -> None:
        fresh = self._fresh_leaders()
        leaders = fresh if fresh and self.rng.random() < 0.7 else self.leaders()
        if leaders:
            self._crash(self.rng.choice(leaders), "leader power cut")

    def _do_restart(self) -> None:
        dead = [n for n in self.nodes.values() if n.raw is None]
        if dead:
            node = self.rng.choice(dead)
            self._start(node)
            self.stats.restarts += 1
            self.log(f"restart {node.id}")

    def _do_partition(self) -> None:
        ids = sorted(self.nodes)
        kind = self.rng.random()
        leaders = self._fresh_leaders() or self.leaders()
        if leaders and kind < 0.4:
            # Cut the leader off, alone or with one follower (its entries stay in a minority).
            side = {self.rng.choice(leaders).id}
            if self.rng.random() < 0.5:
                side.add(self.rng.choice(ids))
            self.blocked = {(a, b) for a in ids for b in ids if (a in side) != (b in side)}
            self.log(f"isolate leader: {sorted(side)} | {sorted(set(ids) - side)}")
        elif kind < 0.7:
            side = {nid for nid in ids if self.rng.random() < 0.5}
            self.blocked = {(a, b) for a in ids for b in ids if (a in side) != (b in side)}
            self.log(f"partition {sorted(side)} | {sorted(set(ids) - side)}")
        else:
            a, b = self.rng.sample(ids, 2)
            self.blocked.add((a, b))
            self.log(f"one-way block {a} -> {b}")

    def _do_heal(self) -> None:
        self.blocked = set()
        self.log("heal")

    def _do_conf(self) -> None:
        leaders = self.leaders()
        if not leaders:
            return
        node = self.rng.choice(leaders)
        assert node.raw is not None
        conf = node.raw.raft.conf
        options: list[ConfChange] = []
        if self.spares:
            options.append(ConfChange(type=ConfChangeType.ADD_LEARNER, node_id=self.spares[0]))
        options += [
            ConfChange(type=ConfChangeType.PROMOTE, node_id=n) for n in sorted(conf.learners)
        ]
        if len(conf.voters) > 2:
            options += [
                ConfChange(type=ConfChangeType.REMOVE, node_id=n) for n in sorted(conf.voters)
            ]
        options += [
            ConfChange(type=ConfChangeType.REMOVE, node_id=n) for n in sorted(conf.learners)
        ]
        if not options:
            return
        cc = self.rng.choice(options)
        try:
            node.raw.propose_conf_change(cc)
        except ProposalRefused as exc:
            self.log(f"conf change {cc.type.name} {cc.node_id} refused: {exc}")
            return
        self.stats.conf_changes += 1
        self.log(f"conf change {cc.type.name} {cc.node_id} on {node.id}")
        if cc.type is ConfChangeType.ADD_LEARNER and cc.node_id in self.spares:
            self.spares.remove(cc.node_id)
            self._add_node(cc.node_id, MemoryStorage())  # a new device: empty disk

    def _do_transfer(self) -> None:
        leaders = self.leaders()
        if not leaders:
            return
        node = self.rng.choice(leaders)
        assert node.raw is not None
        voters = sorted(node.raw.raft.conf.voters - {node.id})
        if not voters:
            return
        to = self.rng.choice(voters)
        try:
            node.raw.transfer_leadership(to)
            self.stats.transfers += 1
            self.log(f"transfer {node.id} -> {to}")
        except ProposalRefused as exc:
            self.log(f"transfer refused: {exc}")

    def _do_compact(self) -> None:
        live = self.live()
        if not live:
            return
        node = self.rng.choice(live)
        assert node.raw is not None
        if node.applied <= node.storage.first_index() - 1:
            return
        snap = node.raw.snapshot_at(node.applied, node.digest)
        node.storage.compact(snap)
        self.stats.compactions += 1
        self.log(f"compact {node.id} to {node.applied}")

    # -- liveness --------------------------------------------------------
    def _round(self) -> None:
        """Faults off: every live node ticks once, then the network drains."""
        self.step_no += 1
        for node in self.live():
            assert node.raw is not None
            node.raw.tick()
        self._pump()
        for _ in range(DELIVERY_PASSES):
            if not self.network:
                break
            while self.network:  # bounded: each pass delivers what is in flight now
                self._deliver_one(0)
            self._pump()

    def _stable_leader(self) -> SimNode | None:
        for node in self.leaders():
            assert node.raw is not None
            r = node.raw.raft
            members = r.conf.voters | r.conf.learners
            settled = r.log.committed >= max(r.term_start_index, r.pending_conf_index())
            if r.lead_transferee is not None or not settled or node.id not in r.conf.voters:
                continue
            if all(self._knows_leader(m, node.id) for m in members):
                return node
        return None

    def _knows_leader(self, member: NodeId, leader: NodeId) -> bool:
        if member in self.kept_down:
            return True
        n = self.nodes.get(member)
        return n is not None and n.raw is not None and n.raw.raft.lead == leader

    def check_liveness(self) -> None:
        self.faults = False
        self.blocked = set()
        # Half the time one voter stays down, when every configuration on any disk
        # still has a quorum without it (4 or more voters): "a quorum is connected"
        # must be enough, not "everyone is back".
        confs = [n.persisted_conf for n in self.nodes.values()]
        common = sorted(frozenset.intersection(*(c.voters for c in confs)))
        if common and min(len(c.voters) for c in confs) >= 4 and self.rng.random() < 0.5:
            self.kept_down = {self.rng.choice(common)}
            self.stats.live_with_one_down += 1
        for node in self.nodes.values():
            if node.raw is not None and node.id in self.kept_down:
                self._crash(node, "stays down")
            elif node.raw is None and node.id not in self.kept_down:
                self._start(node)
        self.log(f"faults stop; network healed; down: {sorted(self.kept_down) or 'none'}")
        self._pump()
        leader = None
        for ticks in range(1, ELECT_BOUND_TICKS + 1):
            self._round()
            leader = self._stable_leader()
            if leader is not None:
                self.stats.elect_ticks_after_heal = ticks
                break
        if leader is None:
            raise Violation("liveness", f"no stable leader {ELECT_BOUND_TICKS} ticks after healing")
        assert leader.raw is not None
        try:
            indices = leader.raw.propose_batch([b"after-heal"] * PROPOSALS_AFTER_HEAL)
        except ProposalRefused as exc:
            raise Violation("liveness", f"stable leader {leader.id} refused: {exc}") from exc
        target = indices[-1]
        for _ in range(COMMIT_BOUND_TICKS):
            self._round()
            r = leader.raw.raft if leader.raw else None
            if r is None or r.role is not Role.LEADER:
                raise Violation("liveness", f"leader {leader.id} lost leadership with no faults")
            members = (r.conf.voters | r.conf.learners) - self.kept_down
            if all(self.nodes[m].applied >= target for m in members):
                return
        raise Violation("liveness", f"proposal {target} not applied everywhere in time")

    def run(self) -> SimStats:
        try:
            for _ in range(self.steps):
                self.act()
            self.check_liveness()
        except Violation:
            raise
        except RaftError as exc:
            raise Violation("core invariant", str(exc)) from exc
        return self.stats


@dataclass
class SeedFailure:
    seed: int
    nodes: int
    steps: int
    violation: Violation
    trace: list[str]


def nodes_for_seed(seed: int, nodes: int | None) -> int:
    return nodes if nodes is not None else (3, 5, 7)[seed % 3]


def run_seed(seed: int, nodes: int | None = None, steps: int = 400) -> SimStats | SeedFailure:
    k = nodes_for_seed(seed, nodes)
    sim = Simulation(seed, k, steps)
    try:
        return sim.run()
    except Violation as v:
        return SeedFailure(seed=seed, nodes=k, steps=steps, violation=v, trace=list(sim.trace))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mesh.raft.sim", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, help="how many seeds (default 100, or 1 with --seed)")
    p.add_argument("--seed", type=int, help="first seed, default 0 (alone: exactly this one)")
    p.add_argument("--nodes", type=int, choices=(3, 5, 7), help="cluster size (default: by seed)")
    p.add_argument("--steps", type=int, default=400, help="fault steps per history")
    args = p.parse_args(argv)
    if args.seeds is None:
        args.seeds = 1 if args.seed is not None else 100
    if args.seed is None:
        args.seed = 0
    total = SimStats()
    worst_elect = 0
    for seed in range(args.seed, args.seed + args.seeds):
        result = run_seed(seed, args.nodes, args.steps)
        if isinstance(result, SeedFailure):
            v = result.violation
            print(
                f"FAIL seed={seed} nodes={result.nodes} steps={args.steps} "
                f"property={v.prop!r}: {v.detail}"
            )
            print("last events:")
            for line in result.trace:
                print(f"  {line}")
            print(
                f"reproduce: python -m mesh.raft.sim --seed {seed} "
                f"--nodes {result.nodes} --steps {args.steps}"
            )
            return 1
        for name in ("steps", "delivered", "dropped", "crashes", "restarts", "elections"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        for name in ("conf_changes", "transfers", "compactions", "snapshots_sent", "committed"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        for name in ("live_with_one_down",):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        worst_elect = max(worst_elect, result.elect_ticks_after_heal)
    sizes = str(args.nodes) if args.nodes else "3/5/7"
    print(
        f"seeds={args.seeds} first_seed={args.seed} nodes={sizes} steps={args.steps} "
        f"delivered={total.delivered} dropped={total.dropped} crashes={total.crashes} "
        f"elections={total.elections} conf_changes={total.conf_changes} "
        f"transfers={total.transfers} compactions={total.compactions} "
        f"snapshots_sent={total.snapshots_sent} committed={total.committed} "
        f"live_with_one_down={total.live_with_one_down} "
        f"max_ticks_to_leader_after_heal={worst_elect} violations=0"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
