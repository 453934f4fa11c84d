"""One seeded fault-injection run, end to end: site, clients, nemesis, heal, check, report.

``run_seed(seed)`` builds the schedule (a pure function of the seed), starts a
site of real node processes in network namespaces, runs the clients for the
schedule's duration while the nemesis works, heals everything, waits for the
nodes to converge, reads every node's final state, and judges the history with
``checker.check_run``. It prints the schedule and a one-line verdict, and
writes under ``tests/artifacts/fault/<seed>/``: ``history.jsonl``,
``schedule.txt``/``schedule.json``, ``faults.jsonl`` (what the nemesis did),
``verdict.txt`` (every violation with its evidence), ``timeline.png`` and the
node logs.

Everything started is stopped in ``finally``: client threads joined, node
processes killed by pid, tmpfs mounts removed, namespaces deleted.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mesh.client.api import ClientError, ControlClient
from tests.fault.checker import NodeState, Verdict, check_run
from tests.fault.history import History
from tests.fault.nemesis import Nemesis
from tests.fault.schedule import Schedule, make_schedule
from tests.fault.site import FaultSite
from tests.fault.workload import Client, Pool
from tests.support.cluster import ClusterTimeout, wait_for
from tests.support.netns import NetnsLab
from tests.support.procs import ProcessReaper

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "fault"
LEADER_TIMEOUT_S = 60.0
CONVERGE_TIMEOUT_S = 90.0
CLIENT_JOIN_S = 30.0  # an op retries for at most OP_BUDGET_S; a stuck client is a finding
READ_TIMEOUT_S = 10.0
READ_TRIES = 5  # final reads retried when an entry was committed while reading
SYNC_TIMEOUT_S = 60.0  # s for the backlog to drain once the cloud is back


@dataclass(slots=True)
class RunResult:
    seed: int
    schedule: Schedule
    verdict: Verdict
    ops: int
    counts: dict[str, int]
    faults: dict[str, int]
    seconds: float
    artifacts: Path
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.verdict.ok and not self.errors

    def line(self) -> str:
        faults = ",".join(f"{k}:{v}" for k, v in sorted(self.faults.items())) or "none"
        verdict = self.verdict.summary() if not self.errors else "ERROR"
        if self.errors and not self.verdict.ok:
            verdict = self.verdict.summary()
        return (
            f"seed={self.seed} nodes={self.schedule.nodes} ops={self.ops} "
            f"ok={self.counts.get('ok', 0)} fail={self.counts.get('fail', 0)} "
            f"unknown={self.counts.get('unknown', 0)} faults={faults} "
            f"time={self.seconds:.0f}s verdict={verdict}"
        )


def read_final(site: FaultSite, name: str) -> NodeState:
    client = ControlClient(site.data(name), timeout=READ_TIMEOUT_S)
    status = client.status()
    listing = client.checks(all=True)
    checks: dict[str, dict[str, object]] = {}
    for summary in listing.get("checks", []):
        reply = client.checks(check=summary["id"])
        if reply.get("ok"):
            checks[summary["id"]] = reply["check"]
    tickets = client.tickets(include_bumped=True).get("tickets", [])
    return NodeState(
        node=name,
        applied_index=int(status["applied_index"]),
        commit_index=int(status["commit_index"]),
        state_hash=str(status["state_hash"]),
        checks=checks,
        tickets=list(tickets),
    )


def _catalog_loaded(site: FaultSite, name: str) -> bool:
    state = ControlClient(site.data(name), timeout=5).state()
    # The genesis catalog is version 0: a number, not None, once it is committed.
    return bool(state.get("ok") and state.get("catalog_version") is not None)


def _settle_and_read(site: FaultSite) -> tuple[list[NodeState], bool, list[str]]:
    """Wait for convergence, then read every node; again if an entry landed meanwhile.

    The leader's sync agent may commit (``synced``, ``check_numbered``) while the
    nodes are being read, so a read set is kept only if every node shows the same
    applied index; a few tries, then the last set is judged as it is.
    """
    finals: list[NodeState] = []
    errors: list[str] = []
    converged = False
    for _ in range(READ_TRIES):
        errors = []
        try:
            site.converged(names=site.names, timeout=CONVERGE_TIMEOUT_S)
            converged = True
        except ClusterTimeout as exc:
            # Still read what every node shows: the checker then says what differs.
            errors.append(str(exc))
            converged = False
        finals = []
        for name in site.names:
            try:
                finals.append(read_final(site, name))
            except (ClientError, OSError, KeyError) as exc:
                errors.append(f"could not read the final state of {name}: {exc}")
        if not converged or (not errors and len({f.applied_index for f in finals}) == 1):
            break
    return finals, converged, errors


def _synced(site: FaultSite) -> bool:
    """The leader sees the cloud up, nothing waits to sync, and every check has a number."""
    try:
        leader = site.leader(timeout=5)
    except ClusterTimeout:
        return False
    client = ControlClient(site.data(leader), timeout=5)
    status = client.status()
    if status["cloud"]["cloud"] != "up" or status["cloud"]["backlog"]:
        return False
    checks = client.checks(all=True).get("checks", [])
    return all(c.get("number") for c in checks)


def run_seed(
    seed: int,
    *,
    duration: float = 40.0,
    nodes: int | None = None,
    artifacts: Path | None = None,
    cloud: bool | None = None,
    echo: Callable[[str], None] = print,
    abort: threading.Event | None = None,
) -> RunResult:
    """Run one seed (see the module docstring); never leaves a process or namespace behind.

    ``abort`` (set from a signal handler, say) ends the workload early; the run then
    heals, checks and cleans up as usual.
    """
    schedule = make_schedule(seed, duration=duration, nodes=nodes, cloud=cloud)
    out = (artifacts or ARTIFACTS) / str(seed)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "schedule.txt").write_text(schedule.describe() + "\n")
    (out / "schedule.json").write_text(schedule.to_json())
    echo(schedule.describe())
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="tmf"))
    reaper = ProcessReaper()
    lab: NetnsLab | None = None
    site: FaultSite | None = None
    stop, replay = threading.Event(), threading.Event()
    clients: list[Client] = []
    nemesis: Nemesis | None = None
    errors: list[str] = []
    history = History()
    finals: list[NodeState] = []
    converged = False
    sync_stalled: str | None = None
    try:
        lab = NetnsLab(schedule.nodes + (1 if schedule.cloud else 0))
        site = FaultSite(
            root / "site",
            reaper,
            lab,
            logs=out / "logs",
            snapshot_every=schedule.snapshot_every,
            cloud=schedule.cloud,
        )
        site.start_cloud()
        site.start()
        site.leader(timeout=LEADER_TIMEOUT_S)
        wait_for("the genesis catalog", lambda: _catalog_loaded(site, site.names[0]), 30)
        history = History()
        pool = Pool()
        tips = itertools.count(1)
        clients = [
            Client(i, seed, site.names, site.data, history, pool, tips, stop, replay)
            for i in range(schedule.clients)
        ]
        nemesis = Nemesis(site, schedule, history.t0, replay, stop)
        for c in clients:
            c.start()
        nemesis.start()
        until = time.monotonic() + schedule.duration
        while time.monotonic() < until and not (abort is not None and abort.is_set()):
            stop.wait(0.25)
        stop.set()
        for c in clients:
            c.join(CLIENT_JOIN_S)
            if c.is_alive():
                errors.append(f"client {c.name} still running {CLIENT_JOIN_S:g} s after stop")
        nemesis.join(CLIENT_JOIN_S)
        nemesis.heal_all()
        if schedule.cloud:
            try:
                wait_for("the backlog to reach the cloud", lambda: _synced(site), SYNC_TIMEOUT_S)
            except ClusterTimeout as exc:
                sync_stalled = str(exc)
        finals, converged, read_errors = _settle_and_read(site)
        errors.extend(read_errors)
    finally:
        stop.set()
        for c in clients:
            c.join(CLIENT_JOIN_S)
        if nemesis is not None and nemesis.is_alive():
            nemesis.join(CLIENT_JOIN_S)
        if site is not None:
            site.close()
        reaper.reap()
        if lab is not None:
            lab.close()
        with contextlib.suppress(OSError):
            shutil.rmtree(root)
    ops = history.ops()
    verdict = check_run(ops, finals, converged=converged)
    if sync_stalled is not None:
        verdict.add("sync", f"the cloud was back, yet {sync_stalled}")
    if nemesis is not None:
        # A fault that could not be applied (its target was restarting) weakens the run
        # but says nothing about the site: a note, not a failure.
        verdict.notes.extend(f"fault not applied: {e}" for e in nemesis.errors)
        for problem in nemesis.dot_problems:
            verdict.add("dot", problem)
    seconds = time.monotonic() - started
    records = nemesis.records() if nemesis is not None else []
    faults: dict[str, int] = {}
    for r in records:  # what was injected, not what was planned (a run may end early)
        if not r["skipped"] and not str(r["note"]).startswith("apply failed"):
            faults[r["kind"]] = faults.get(r["kind"], 0) + 1
    result = RunResult(
        seed=seed,
        schedule=schedule,
        verdict=verdict,
        ops=len(ops),
        counts=dict(history.counts()),
        faults=faults,
        seconds=seconds,
        artifacts=out,
        errors=errors,
    )
    history.write_jsonl(out / "history.jsonl")
    with (out / "faults.jsonl").open("w") as fh:
        for r in records:
            fh.write(json.dumps(r, sort_keys=True) + "\n")
    report = verdict.report()
    if errors:
        report += "\n" + "\n".join(f"error: {e}" for e in errors)
    (out / "verdict.txt").write_text(result.line() + "\n" + report + "\n")
    try:
        from tests.fault.plot import timeline

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a layout warning must not fail a run
            timeline(ops, records, out / "timeline.png", title=result.line())
    except (ImportError, ValueError, OSError) as exc:  # matplotlib is a bench extra
        echo(f"no timeline plot: {exc}")
    echo(result.line())
    if not result.ok:
        echo(report)
    return result
