"""Figures for the pure Raft core (mesh.raft), in memory, no network or disk.

    python bench/raft_core.py [--quick]

1. Throughput: proposals committed per second through a 3-node cluster, by batch
   size (``propose_batch`` of N commands, then one Ready round per node). This
   measures the core's CPU cost only: MemoryStorage, instant delivery.
2. Failover: ticks from a leader crash until a new leader is elected and known
   by the survivors (median, p99, max over many seeds), for 3 and 5 voters with
   election_tick=10, PreVote and CheckQuorum on. Multiply by the tick length the
   node uses to get seconds.

This is a benchmark, not a test: it prints figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from mesh.raft import Config, MemoryStorage, Message, RawNode, Role, bootstrap

ELECTION_TICK = 10
MAX_TICKS = 500


class MiniCluster:
    def __init__(self, size: int, seed: int) -> None:
        self.ids = [f"n{i}" for i in range(1, size + 1)]
        self.storages: dict[str, MemoryStorage] = {}
        self.nodes: dict[str, RawNode] = {}
        for nid in self.ids:
            s = MemoryStorage()
            bootstrap(s, self.ids)
            self.storages[nid] = s
            self.nodes[nid] = RawNode(
                Config(id=nid, election_tick=ELECTION_TICK), s, random.Random(f"{seed}:{nid}")
            )
        self.network: list[Message] = []
        self.applied = 0

    def pump(self) -> None:
        for _ in range(100):  # bounded: a quiet network ends it far sooner
            for nid, node in self.nodes.items():
                if not node.has_ready():
                    continue
                rd = node.ready()
                s = self.storages[nid]
                if rd.snapshot is not None:
                    s.apply_snapshot(rd.snapshot)
                s.append(rd.entries)
                if rd.hard_state is not None:
                    s.set_hard_state(rd.hard_state)
                self.network.extend(rd.messages)
                if nid == self.ids[0]:
                    self.applied += len(rd.committed_entries)
                node.advance(rd)
            if not self.network:
                return
            msgs, self.network = self.network, []
            for m in msgs:
                if m.to in self.nodes:
                    self.nodes[m.to].step(m)

    def leader(self) -> str | None:
        for nid, node in self.nodes.items():
            st = node.status()
            if st.role is Role.LEADER and all(
                n.status().leader == nid for n in self.nodes.values()
            ):
                return nid
        return None


def throughput(batch: int, total: int) -> float:
    c = MiniCluster(3, seed=0)
    c.nodes["n1"].campaign()
    c.pump()
    leader = c.nodes["n1"]
    payload = b"x" * 100
    start_applied = c.applied
    started = time.perf_counter()
    while c.applied - start_applied < total:
        leader.propose_batch([payload] * batch)
        c.pump()
    elapsed = time.perf_counter() - started
    return (c.applied - start_applied) / elapsed


def ticks_to_elect(size: int, seed: int) -> int:
    c = MiniCluster(size, seed)
    for _ in range(MAX_TICKS):
        for node in c.nodes.values():
            node.tick()
        c.pump()
        if c.leader() is not None:
            break
    old = c.leader()
    assert old is not None
    for _ in range(3):  # a few healthy heartbeats first
        for node in c.nodes.values():
            node.tick()
        c.pump()
    del c.nodes[old]  # power cut
    for ticks in range(1, MAX_TICKS + 1):
        for node in c.nodes.values():
            node.tick()
        c.pump()
        if c.leader() is not None:
            return ticks
    return MAX_TICKS


def percentile(values: list[int], p: float) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer proposals and seeds")
    args = parser.parse_args()
    total = 20_000 if args.quick else 200_000
    seeds = 200 if args.quick else 2000
    print(f"throughput, 3 nodes in memory, 100-byte commands ({total} per batch size):")
    for batch in (1, 10, 100, 1000):
        rate = throughput(batch, total if batch > 1 else total // 10)
        print(f"  batch={batch:>4}: {rate:>10,.0f} commits/s")
    print(f"failover, election_tick={ELECTION_TICK}, PreVote+CheckQuorum ({seeds} seeds):")
    for size in (3, 5):
        ticks = [ticks_to_elect(size, seed) for seed in range(seeds)]
        print(
            f"  {size} voters: ticks to a new leader after a crash: "
            f"median={statistics.median(ticks):.0f} p99={percentile(ticks, 0.99)} max={max(ticks)}"
        )


if __name__ == "__main__":
    main()
