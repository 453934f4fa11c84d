"""Helpers for the Raft tests: a bare core to poke, and a small in-memory cluster.

``Cluster`` is the scripted cousin of ``mesh.raft.sim``: no randomness except the
seeded election jitter, and the test decides which links are cut and when time
passes. Every loop is bounded.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence

from mesh.raft import (
    Config,
    Entry,
    EntryKind,
    HardState,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
    Role,
    bootstrap,
)
from mesh.raft.raft import Raft

MAX_SETTLE_PASSES = 200


def new_raft(
    nid: str,
    peers: Sequence[str],
    *,
    election_tick: int = 10,
    heartbeat_tick: int = 1,
    pre_vote: bool = False,
    check_quorum: bool = False,
    storage: MemoryStorage | None = None,
    seed: int = 0,
) -> Raft:
    """A core with ``peers`` as voters, its log holding only the bootstrap entries."""
    if storage is None:
        storage = MemoryStorage()
        bootstrap(storage, peers)
    config = Config(
        id=nid,
        election_tick=election_tick,
        heartbeat_tick=heartbeat_tick,
        pre_vote=pre_vote,
        check_quorum=check_quorum,
    )
    return Raft(config, storage, random.Random(seed))


def storage_with(
    peers: Sequence[str], terms: Iterable[int], hard: HardState | None = None
) -> MemoryStorage:
    """Bootstrapped storage followed by one entry per term in ``terms``."""
    s = MemoryStorage()
    bootstrap(s, peers)
    start = s.last_index() + 1
    s.append(
        [Entry(term=t, index=start + k, data=f"e{start + k}".encode()) for k, t in enumerate(terms)]
    )
    if hard is not None:
        s.set_hard_state(hard)
    return s


def take(r: Raft) -> list[Message]:
    msgs, r.msgs = r.msgs, []
    return msgs


def msg(type_: MessageType, frm: str, to: str, **kw: object) -> Message:
    return Message(type=type_, frm=frm, to=to, **kw)  # type: ignore[arg-type]


class Cluster:
    """Nodes joined by an in-memory network the test controls."""

    def __init__(
        self,
        ids: Sequence[str],
        *,
        learners: Sequence[str] = (),
        election_tick: int = 10,
        pre_vote: bool = True,
        check_quorum: bool = True,
        max_size_per_msg: int = 1 << 20,
        max_inflight: int = 64,
        seed: int = 0,
    ) -> None:
        self.cfg = dict(
            election_tick=election_tick,
            pre_vote=pre_vote,
            check_quorum=check_quorum,
            max_size_per_msg=max_size_per_msg,
            max_inflight=max_inflight,
        )
        self.seed = seed
        self.storages: dict[str, MemoryStorage] = {}
        self.nodes: dict[str, RawNode] = {}
        self.applied: dict[str, list[Entry]] = {}
        self.snapshot_loaded: dict[str, int] = {}
        self.network: list[Message] = []
        self.cut: set[tuple[str, str]] = set()
        self.sent: list[Message] = []
        for nid in [*ids, *learners]:
            s = MemoryStorage()
            bootstrap(s, ids, learners)
            self.storages[nid] = s
            self.start(nid)

    def start(self, nid: str, *, lost_state: bool = False) -> None:
        cfg = Config(id=nid, lost_state=lost_state, **self.cfg)  # type: ignore[arg-type]
        self.nodes[nid] = RawNode(cfg, self.storages[nid], random.Random(f"{self.seed}:{nid}"))
        snap = self.storages[nid].snapshot()
        self.applied[nid] = []
        self.snapshot_loaded[nid] = snap.meta.index

    def add_node(self, nid: str) -> None:
        """A new device with an empty disk."""
        self.storages[nid] = MemoryStorage()
        self.start(nid)

    def crash(self, nid: str) -> None:
        del self.nodes[nid]

    def lose_disk(self, nid: str, peers: Sequence[str]) -> None:
        """The device comes back with only the bootstrap entries: its store was lost."""
        self.crash(nid)
        s = MemoryStorage()
        bootstrap(s, peers)
        self.storages[nid] = s
        self.start(nid, lost_state=True)

    def process(self, nid: str) -> None:
        node = self.nodes.get(nid)
        if node is None or not node.has_ready():
            return
        rd = node.ready()
        s = self.storages[nid]
        if rd.snapshot is not None:
            s.apply_snapshot(rd.snapshot)
            self.snapshot_loaded[nid] = rd.snapshot.meta.index
            self.applied[nid] = []
        s.append(rd.entries)
        if rd.hard_state is not None:
            s.set_hard_state(rd.hard_state)
        self.network.extend(rd.messages)
        self.sent.extend(rd.messages)
        self.applied[nid].extend(rd.committed_entries)
        node.advance(rd)

    def process_all(self) -> None:
        for nid in list(self.nodes):
            self.process(nid)

    def deliver_all(self, drop: Callable[[Message], bool] | None = None) -> None:
        msgs, self.network = self.network, []
        for m in msgs:
            node = self.nodes.get(m.to)
            if node is None or (m.frm, m.to) in self.cut or (drop is not None and drop(m)):
                continue
            node.step(m)

    def settle(self, drop: Callable[[Message], bool] | None = None) -> None:
        """Persist, send and deliver until the network is quiet (``drop`` loses messages)."""
        for _ in range(MAX_SETTLE_PASSES):
            self.process_all()
            if not self.network:
                return
            self.deliver_all(drop)
        raise AssertionError("network did not quiesce")

    def tick(self, ticks: int = 1, only: Iterable[str] | None = None) -> None:
        for _ in range(ticks):
            for nid in list(only if only is not None else self.nodes):
                if nid in self.nodes:
                    self.nodes[nid].tick()
            self.settle()

    def elect(self, nid: str) -> None:
        self.nodes[nid].campaign()
        self.settle()
        assert self.role(nid) is Role.LEADER, f"{nid} did not win: {self.nodes[nid].status()}"

    def isolate(self, nid: str) -> None:
        for other in self.storages:
            if other != nid:
                self.cut.add((nid, other))
                self.cut.add((other, nid))

    def partition(self, *groups: Sequence[str]) -> None:
        where = {n: g for g, members in enumerate(groups) for n in members}
        self.cut = {(a, b) for a in where for b in where if where[a] != where[b]}

    def heal(self) -> None:
        self.cut = set()

    def role(self, nid: str) -> Role:
        return self.nodes[nid].status().role

    def leader(self) -> str | None:
        leaders = [n for n in self.nodes if self.role(n) is Role.LEADER]
        assert len(leaders) <= 1 or len({self.nodes[n].status().term for n in leaders}) == len(
            leaders
        )
        if not leaders:
            return None
        return max(leaders, key=lambda n: self.nodes[n].status().term)

    def applied_data(self, nid: str) -> list[bytes]:
        return [e.data for e in self.applied[nid] if e.data and e.kind is EntryKind.NORMAL]
