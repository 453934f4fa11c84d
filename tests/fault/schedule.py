"""The fault schedule of a run: a pure function of the seed (same seed, same schedule).

A schedule is a list of faults, each with a start (seconds into the run), a
duration, a kind, a target and parameters. Targets are node names, or ``leader``
(resolved when the fault starts: whoever leads then; the run's ``faults.jsonl``
records who it was). About a third of the faults overlap the next one (a leader
killed during a partition, a pause on a lossy link); the others are followed by a
quiet gap, so each one's effect can be read on the timeline. The last one ends a
few seconds before the workload stops, and then everything is healed.

Kinds:

- ``kill``: SIGKILL the target, restart it when the fault ends;
- ``pause``: SIGSTOP the target (a frozen tablet), SIGCONT when it ends;
- ``partition``: ``isolate`` (the target hosts' bridge ports go down), ``split``
  (the minority's ports move to a second bridge: each side talks among itself),
  ``oneway`` (the minority stops receiving from the majority, still sends);
- ``netem``: inside the target's namespace, ``loss`` (a deterministic share of
  packets dropped) or ``slow`` (the link shaped to a low rate: queueing delay);
- ``clock``: the target's wall clock jumps by ``ms`` (op ``clock_offset``);
- ``disk``: the target's data directory (a small tmpfs) is filled: writes fail;
- ``dup``: every acknowledged command is replayed through another node;
- ``cloud`` (runs with a cloud only): the back office is killed (``kill``, restarted
  at the end) or its host unplugged (``cut``): the cloud flaps.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("kill", "pause", "partition", "netem", "clock", "disk", "dup")
WEIGHTS = {"kill": 4, "pause": 2, "partition": 4, "netem": 2, "clock": 2, "disk": 2, "dup": 1}
FIRST_FAULT_S = 3.0  # the site settles and clients open a few checks first
OVERLAP = 0.3  # share of faults the next one overlaps (a kill during a partition)
TAIL_S = 4.0  # no fault in the last seconds of the workload: the site recovers meanwhile
CLOUD_BY_DEFAULT = True  # half the seeds run with a cloud (soak --no-cloud: none)


@dataclass(frozen=True, slots=True)
class Fault:
    index: int
    kind: str
    start: float
    duration: float
    targets: tuple[str, ...]  # node names, or ("leader",)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.start + self.duration

    def describe(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        who = "+".join(self.targets)
        return f"#{self.index} {self.start:6.1f}s +{self.duration:4.1f}s {self.kind}({who}) {extra}"


@dataclass(frozen=True, slots=True)
class Schedule:
    seed: int
    nodes: int
    duration: float
    clients: int
    faults: tuple[Fault, ...]
    snapshot_every: int | None = None  # the nodes' snapshot interval (None: the default)
    cloud: bool = False  # a back office the leader syncs with (and ``cloud`` faults)

    def names(self) -> list[str]:
        return [f"n{i}" for i in range(1, self.nodes + 1)]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.faults:
            out[f.kind] = out.get(f.kind, 0) + 1
        return out

    def describe(self) -> str:
        head = (
            f"schedule seed={self.seed} nodes={self.nodes} clients={self.clients} "
            f"duration={self.duration:g}s faults={len(self.faults)} "
            f"snapshot_every={self.snapshot_every or 'default'} cloud={self.cloud}"
        )
        return "\n".join([head, *(f"  {f.describe()}" for f in self.faults)])

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def make_schedule(
    seed: int,
    *,
    duration: float = 40.0,
    nodes: int | None = None,
    kinds: tuple[str, ...] = KINDS,
    cloud: bool | None = None,
) -> Schedule:
    """The schedule for ``seed``: node count (3-7 unless given), clients, and faults."""
    rng = random.Random(f"tablemesh-fault-{seed}")
    n = nodes if nodes is not None else rng.choice([3, 3, 4, 5, 5, 6, 7])
    clients = rng.randint(3, 5)
    names = [f"n{i}" for i in range(1, n + 1)]
    minority_max = (n - 1) // 2
    faults: list[Fault] = []
    t = FIRST_FAULT_S + rng.uniform(0, 2)
    weights = [WEIGHTS[k] for k in kinds]
    for index in range(200):  # bounded: a long run ends on time, not on a count
        dur = round(rng.uniform(2.0, 6.0), 1)
        if t + dur > duration - TAIL_S:
            break
        kind = rng.choices(kinds, weights)[0]
        params: dict[str, Any] = {}
        targets: tuple[str, ...]
        if kind in ("kill", "pause"):
            targets = ("leader",) if rng.random() < 0.5 else (rng.choice(names),)
        elif kind == "partition":
            mode = rng.choice(["isolate", "split", "oneway"])
            size = rng.randint(1, max(1, minority_max))
            if rng.random() < 0.5:
                targets = ("leader", *rng.sample(names, size - 1))
            else:
                targets = tuple(rng.sample(names, size))
            params = {"mode": mode}
        elif kind == "netem":
            mode = rng.choice(["loss", "slow"])
            size = rng.randint(1, n)
            targets = tuple(sorted(rng.sample(names, size)))
            if mode == "loss":
                params = {"mode": mode, "one_in": rng.choice([2, 4, 8])}
            else:
                params = {"mode": mode, "kbit": rng.choice([64, 128, 256, 512])}
        elif kind == "clock":
            targets = ("leader",) if rng.random() < 0.5 else (rng.choice(names),)
            sign = rng.choice([-1, 1])
            params = {"ms": sign * rng.choice([90_000, 3_600_000, 26 * 3_600_000])}
        elif kind == "disk":
            targets = ("leader",) if rng.random() < 0.5 else (rng.choice(names),)
        else:  # dup
            targets = ()
        faults.append(Fault(index, kind, round(t, 1), dur, targets, params))
        if rng.random() < OVERLAP:
            t += rng.uniform(0.5, dur)  # the next fault starts while this one lasts
        else:
            t += dur + rng.uniform(1.0, 3.0)
    # Drawn last, so adding it changed no seed's faults. Small intervals make nodes that
    # were down catch up from a snapshot, during the faults, not only replay the log.
    snapshot_every = rng.choice([None, 1000, 300, 100])
    wanted = rng.random() < 0.5
    with_cloud = (wanted and CLOUD_BY_DEFAULT) if cloud is None else cloud
    if with_cloud:
        faults.extend(_cloud_flaps(seed, duration, len(faults)))
    return Schedule(
        seed=seed,
        nodes=n,
        duration=duration,
        clients=clients,
        faults=tuple(faults),
        snapshot_every=snapshot_every,
        cloud=with_cloud,
    )


def _cloud_flaps(seed: int, duration: float, first_index: int) -> list[Fault]:
    """The cloud's own outages: a stream of their own, so they move no other fault."""
    rng = random.Random(f"tablemesh-cloud-{seed}")
    out: list[Fault] = []
    t = FIRST_FAULT_S + rng.uniform(0, 6)
    for i in range(50):
        dur = round(rng.uniform(2.0, 8.0), 1)
        if t + dur > duration - TAIL_S:
            break
        mode = rng.choice(["kill", "cut"])
        out.append(Fault(first_index + i, "cloud", round(t, 1), dur, ("cloud",), {"mode": mode}))
        t += dur + rng.uniform(2.0, 10.0)
    return out
