"""The nemesis: applies a seeded fault schedule to a live FaultSite, and heals it.

It runs on its own thread, with one worker per fault that starts the fault at its
scheduled time (relative to the history's start) and undoes it at its end, so
faults the schedule overlaps do overlap; changes to the site are serialised.
Targets named ``leader`` are resolved when the fault starts; every applied fault
is recorded (who, when, what happened) for the timeline and the report. A fault
that cannot be applied (no leader to pause, a node already down) is recorded as
skipped, not raised: the run goes on and the report says so.
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mesh.client.api import ClientError, ControlClient
from tests.fault.schedule import Fault, Schedule
from tests.fault.site import FaultSite, SiteError

STATUS_TIMEOUT = 1.5  # s for one status call while looking for the leader
DOT_AFTER_S = 3.0  # s a node cut off from the quorum may take to say so (QUORUM_CONTACT_S: 1)
JOIN_SLACK_S = 60.0  # s past the schedule's end a fault worker may take to undo its fault


@dataclass(slots=True)
class Applied:
    index: int
    kind: str
    start: float
    end: float | None = None
    targets: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    skipped: bool = False


class Nemesis(threading.Thread):
    def __init__(
        self,
        site: FaultSite,
        schedule: Schedule,
        t0: float,
        replay: threading.Event,
        stop: threading.Event,
    ) -> None:
        super().__init__(name="nemesis", daemon=True)
        self.site, self.schedule, self.t0 = site, schedule, t0
        self.replay, self.stop = replay, stop
        self.applied: list[Applied] = []
        self.errors: list[str] = []
        self.dot_problems: list[str] = []  # nodes in a minority whose dot did not say so
        self._rng = random.Random(f"nemesis-{schedule.seed}")
        self._lock = threading.Lock()
        self._act = threading.Lock()

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def _sleep_until(self, at: float) -> bool:
        """Sleep until ``at`` (run time); False if the run is stopping."""
        while not self.stop.is_set():
            left = at - self.now()
            if left <= 0:
                return True
            self.stop.wait(min(left, 0.2))
        return False

    def run(self) -> None:
        """One worker per fault, so overlapping faults overlap; joined before returning."""
        workers = [
            threading.Thread(target=self._one, args=(f,), name=f"fault-{f.index}", daemon=True)
            for f in self.schedule.faults
        ]
        for w in workers:
            w.start()
        deadline = time.monotonic() + self.schedule.duration + JOIN_SLACK_S
        for w in workers:
            w.join(max(0.1, deadline - time.monotonic()))

    def _one(self, fault: Fault) -> None:
        if not self._sleep_until(fault.start):
            return
        record = Applied(fault.index, fault.kind, self.now(), params=dict(fault.params))
        undo = None
        with self._act:  # one change to the site at a time: procs and qdiscs are shared
            with self._lock:
                self.applied.append(record)
            try:
                undo = self._apply(fault, record)
            except (SiteError, OSError, ClientError) as exc:
                record.note = f"apply failed: {exc}"
                self.errors.append(f"#{fault.index} {fault.kind}: {exc}")
        watch_dots = fault.kind == "partition" and fault.duration > DOT_AFTER_S + 0.5
        if undo is not None and watch_dots and self._sleep_until(record.start + DOT_AFTER_S):
            self._check_dots(record)
        self._sleep_until(fault.end)  # on stop: undo at once
        with self._act:
            if undo is not None:
                try:
                    undo()
                except (SiteError, OSError, ClientError) as exc:
                    record.note += f" undo failed: {exc}"
                    self.errors.append(f"#{fault.index} undo {fault.kind}: {exc}")
            record.end = self.now()

    def _check_dots(self, record: Applied) -> None:
        """A node cut off from the quorum must say so on its dot (DESIGN.md), within seconds."""
        for name in record.targets:
            if name in self.site.dead():
                continue
            try:
                st = ControlClient(self.site.data(name), timeout=STATUS_TIMEOUT).status()
            except (ClientError, OSError):
                continue  # paused or restarting: it says nothing, which is honest
            voters = set(st.get("voters") or [])
            if voters and len(voters & set(record.targets)) > len(voters) // 2:
                # The "minority" of devices holds a majority of the voters (3 voters
                # among 5 devices): it keeps the quorum, and the others are cut off.
                continue
            if st.get("dot") != "cut_off" or st.get("in_quorum"):
                self.dot_problems.append(
                    f"#{record.index} {name} partitioned away ({record.params.get('mode')}) "
                    f"for {DOT_AFTER_S:g} s shows dot={st.get('dot')} "
                    f"in_quorum={st.get('in_quorum')} role={st.get('role')}"
                )

    # -- resolving targets -------------------------------------------------------
    def leader(self) -> str | None:
        best: tuple[int, str] | None = None
        for name in self.site.names:
            if name in self.site.dead():
                continue
            with contextlib.suppress(ClientError, OSError, KeyError):
                st = ControlClient(self.site.data(name), timeout=STATUS_TIMEOUT).status()
                if st.get("role") == "leader" and (best is None or st["term"] > best[0]):
                    best = (int(st["term"]), name)
        return None if best is None else best[1]

    def resolve(self, fault: Fault) -> list[str]:
        out: list[str] = []
        for t in fault.targets:
            name = self.leader() if t == "leader" else t
            if name is None:  # no leader right now: a live node the seed picks instead
                alive = [n for n in self.site.names if n not in self.site.dead()]
                name = self._rng.choice(alive) if alive else None
            if name is not None and name not in out:
                out.append(name)
        return out

    # -- faults ------------------------------------------------------------------
    def _apply(self, fault: Fault, rec: Applied) -> Any:
        site = self.site
        kind = fault.kind
        if kind == "dup":
            self.replay.set()
            return self.replay.clear
        if kind == "cloud":
            rec.targets = ["cloud"]
            host = site.cloud_host
            if host is None:
                rec.skipped, rec.note = True, "no cloud in this run"
                return None
            if fault.params["mode"] == "kill":
                site.kill_cloud()
                return site.start_cloud
            site.lab.cut(host)
            return lambda: site.lab.restore(host)
        targets = self.resolve(fault)
        rec.targets = targets
        if not targets:
            rec.skipped, rec.note = True, "no target alive"
            return None
        if kind == "kill":
            name = targets[0]
            if not site.kill9(name):
                rec.skipped, rec.note = True, f"{name} was not running"
                return None
            return lambda: site.start([name], wait=False)
        if kind == "pause":
            name = targets[0]
            if not site.signal(name, signal.SIGSTOP):
                rec.skipped, rec.note = True, f"{name} was not running"
                return None
            return lambda: site.signal(name, signal.SIGCONT)
        if kind == "partition":
            mode = fault.params["mode"]
            if len(targets) * 2 >= len(site.names):
                targets = targets[: (len(site.names) - 1) // 2] or targets[:1]
                rec.targets = targets
            if mode == "isolate":
                site.isolate(targets)
                return lambda: site.restore(targets)
            if mode == "split":
                site.split(targets)
                return lambda: site.unsplit(targets)
            site.oneway(targets)
            return lambda: site.unoneway(targets)
        if kind == "netem":
            for name in targets:
                if fault.params["mode"] == "loss":
                    site.lossy(name, int(fault.params["one_in"]))
                else:
                    site.slow(name, int(fault.params["kbit"]))
            return lambda: site.unshape(targets)
        if kind == "clock":
            name = targets[0]
            ms = int(fault.params["ms"])
            reply: dict[str, Any] = {}
            for attempt in range(3):  # the target may be restarting after an earlier kill
                try:
                    reply = ControlClient(site.data(name), timeout=3).call("clock_offset", ms=ms)
                    break
                except ClientError:
                    if attempt == 2:
                        raise
                    time.sleep(1.0)
            rec.note = f"clock_offset reply ok={reply.get('ok')}"

            def undo_clock() -> None:
                with contextlib.suppress(ClientError):
                    ControlClient(site.data(name), timeout=3).call("clock_offset", ms=0)

            return undo_clock
        if kind == "disk":
            name = targets[0]
            taken = site.fill_disk(name)
            rec.note = f"filled {taken // 1024} KiB"
            return lambda: site.free_disk(name)
        raise ValueError(f"unknown fault kind {kind}")

    def heal_all(self) -> None:
        """After the run: every fault undone, every dead node restarted. Never raises."""
        self.replay.clear()
        site = self.site
        site.heal_network()
        for name in site.names:
            site.free_disk(name)
            site.signal(name, signal.SIGCONT)
        for name in site.dead():
            with contextlib.suppress(SiteError, OSError):
                site.start([name], wait=False)
        with contextlib.suppress(SiteError, OSError):
            site.start_cloud()
        for name in site.names:
            with contextlib.suppress(ClientError, OSError):
                ControlClient(site.data(name), timeout=3).call("clock_offset", ms=0)

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self.applied]
