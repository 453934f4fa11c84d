"""Kitchen display figures: fire-to-screen latency at dinner rush, redraw with 60 open tickets.

    python bench/kitchen.py            # 60 s of rush, then 20 s at 60 open tickets
    python bench/kitchen.py --quick    # 15 s and 8 s
    python bench/kitchen.py --window 1280x720
    python bench/kitchen.py --normal-priority   # the KDS draws at normal priority

A 5-node site on loopback: four terminal nodes (processes) and one expo KDS (the
real Kivy app with its node inside, on a private Xvfb). Twelve server threads,
each with its own control-socket client on a terminal node, open a table, add
2-4 items and fire, a table every ~4 s each (~3 fires/s, the pace of a full
200-seat room); a cook thread bumps the oldest expo tickets so the rail stays
short, as a kitchen that keeps up does.

- Fire-to-screen: from the moment a terminal's ``fire`` is acknowledged to the
  end of the buffer swap of the first frame the KDS drew with that ticket on its
  rail (wall clock, same machine); under a software renderer the swap is where
  the pixels are drawn. Also printed: to the start of that swap, which is what
  this figure measured before 2026-12-02.
- Redraw: with 60 open tickets, every second the oldest ticket bumped and, half a
  second later, a new one fired (``--together``: the fire right after the bump, as
  before 2026-12-03, so that the bump's frame shares the two cores with the other
  four nodes replicating the fire), the UI thread's work for each update (apply
  the new ticket list) plus the frame that shows it, to the end of its swap (and,
  as measured before, to its start). Target: under 16.7 ms (one frame at 60 Hz).
  Also by kind of update: a bump (a ticket left the rail, the cards after it
  slide) and a new ticket (it lands on a later page), each with its parts:
  applying it, drawing the frame (from its start to the swap), the swap.
- Where the KDS's time goes: its frames per second and buffer swaps, the CPU of
  its UI thread and of its whole process, its calls to its node per second, the
  UI thread's CPU per update (from applying it to the end of the swap of the
  frame that shows it), its garbage collections (a full one stops every thread),
  and the CPU one frame of the 60-ticket page costs with nothing else changing,
  in all and on the UI thread (the figures other load on the machine moves least).

- Where a fired ticket waits: from the end of the feed's pass to the UI thread applying
  it, and what the UI thread did meanwhile (the slowest twentieth); and the slowest three
  fires in steps (the KDS's node applied it, the feed handed it over, the UI thread
  applied it, the frame that shows it began, its swap began and ended), with what the UI
  thread did between applying it and that frame (label images, layouts, the clock's run
  before a frame).

The KDS draws at real-time priority where it may (kitchen/draw_priority.py; as root,
for one) and the bench prints which. Each phase also prints the machine's 1-minute
load average at its start and end: other work on the machine moves every wall-clock
figure above.

Needs Xvfb. Writes ``bench/results/kitchen.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mesh.client.api import ClientError, ControlClient  # noqa: E402
from mesh.node.site_setup import DeviceSpec, init_site  # noqa: E402
from tests.kitchen.harness import Kds, xvfb_missing  # noqa: E402
from tests.support.procs import ProcessReaper  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TERMINALS = ["n1", "n2", "n3", "n4"]
SERVERS = 12
TABLE_EVERY_S = 4.0
KEEP_OPEN = 4  # the rush phase: cooks keep the expo rail this short
MIN_AGE_TO_BUMP_MS = 3_000
OPEN_TICKETS = 60
APART_S = 0.5  # the redraw phase: from a bump to the next fire
FRAME_COST_FRAMES = 20
MENU = ["burger", "ribeye", "salmon", "chicken", "wings", "fries", "caesar", "ipa", "wine"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(pct(values, 50), 2),
        "p99_ms": round(pct(values, 99), 2),
        "max_ms": round(max(values), 2) if values else float("nan"),
        "n": len(values),
    }


class Server(threading.Thread):
    """One server: a table every ``every`` seconds: open, add 2-4 items, fire."""

    def __init__(self, root: Path, via: str, n: int, every: float, stop: threading.Event):
        super().__init__(daemon=True)
        self.client = ControlClient(root / via, timeout=10)
        self.n, self.every, self.stop = n, every, stop
        self.fired: list[tuple[str, float, int]] = []  # (expo ticket, time of the ack, index)
        self.errors = 0
        self.rng = random.Random(n)

    def submit(self, command: dict[str, Any]) -> dict[str, Any] | None:
        try:
            reply = self.client.submit(command, timeout=5)
        except ClientError:
            self.errors += 1
            return None
        if not reply.get("ok"):
            self.errors += 1
            return None
        outcome: dict[str, Any] = {**reply["outcome"], "_index": reply["index"]}
        return outcome

    def run(self) -> None:
        time.sleep(self.rng.uniform(0, self.every))
        table = 0
        while not self.stop.is_set():
            started = time.monotonic()
            table += 1
            opened = self.submit({"type": "open_check", "by": "s-ana", "server": "s-ana",
                                  "table": f"{self.n}-{table}", "guests": 2})  # fmt: skip
            if opened is not None:
                items = [{"item": self.rng.choice(MENU), "qty": self.rng.randint(1, 3)}
                         for _ in range(self.rng.randint(2, 4))]  # fmt: skip
                check = opened["check"]
                if self.submit({"type": "add_items", "by": "s-ana", "check": check,
                                "items": items}):  # fmt: skip
                    fired = self.submit({"type": "fire", "by": "s-ana", "check": check})
                    if fired is not None:
                        self.fired.append((fired["tickets"][-1], time.time(), fired["_index"]))
            self.stop.wait(max(0.0, self.every - (time.monotonic() - started)))


class Cook(threading.Thread):
    """Every station keeps up: bumps the oldest tickets whenever more than ``keep`` are open."""

    def __init__(self, root: Path, keep: int, stop: threading.Event, every: float = 0.25):
        super().__init__(daemon=True)
        self.client = ControlClient(root / "n1", timeout=10)
        self.keep, self.stop, self.every = keep, stop, every
        self.bumped = 0

    def run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                by_station: dict[str, list[dict[str, Any]]] = {}
                for t in self.client.tickets()["tickets"]:
                    by_station.setdefault(t["station"], []).append(t)
                # Only tickets a few seconds old: a cook bumps what the screen showed.
                late = [t for ts in by_station.values() for t in ts[: max(0, len(ts) - self.keep)]
                        if t.get("age_ms", 0) > MIN_AGE_TO_BUMP_MS]  # fmt: skip
                for t in late:
                    reply = self.client.submit(
                        {"type": "bump", "by": "k-dev", "ticket": t["id"]}, timeout=5
                    )
                    self.bumped += bool(reply.get("ok"))
            except ClientError:
                continue


def load_average() -> float:
    """The machine's 1-minute load average: other work moves every wall-clock figure."""
    return round(os.getloadavg()[0], 2)


def redraws(kds: Kds) -> dict[str, Any] | None:
    """How many frames the KDS drew whole and in part (None: a KDS that draws all whole)."""
    got = kds.request("redraws")
    return got if got.get("ok") else None


def redraws_between(before: dict[str, Any] | None, after: dict[str, Any] | None,
                    window: tuple[int, int]) -> dict[str, Any] | None:  # fmt: skip
    if before is None or after is None:
        return None
    partial = after["partial"] - before["partial"]
    pixels = after["pixels"] - before["pixels"]
    passes = after.get("passes", 0) - before.get("passes", 0)
    return {
        "active": after["active"],
        "full": after["full"] - before["full"],
        "partial": partial,
        # the share of the window a partial frame drew, on average
        "partial_share": round(pixels / partial / (window[0] * window[1]), 3) if partial else None,
        "passes_per_partial": round(passes / partial, 2) if partial else None,
        # moved cards whose pixels were copied rather than drawn again (kitchen/damage.py)
        "copies": after.get("copies", 0) - before.get("copies", 0),
        # UI-thread time each frame spent finding what changed (kitchen/damage.py)
        "walk_ms_per_frame": round(
            (after.get("walk_s", 0.0) - before.get("walk_s", 0.0))
            * 1000
            / max(1, partial + after["full"] - before["full"]),
            2,
        ),
        "walk_max_ms": round(after.get("walk_max_s", 0.0) * 1000, 1),
        "why_whole": {
            why: n - before["reasons"].get(why, 0)
            for why, n in after["reasons"].items()
            if n > before["reasons"].get(why, 0)
        },
    }


def run_rush(root: Path, kds: Kds, seconds: float) -> dict[str, Any]:
    load_at_start = load_average()
    started_at = time.time()
    drawn_before = redraws(kds)
    cpu_before = kds.request("perf", reset=True)
    stop = threading.Event()
    servers = [
        Server(root, TERMINALS[i % len(TERMINALS)], i, TABLE_EVERY_S, stop) for i in range(SERVERS)
    ]
    cook = Cook(root, KEEP_OPEN, stop)
    for t in [*servers, cook]:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in [*servers, cook]:
        t.join(15)
    fired = [f for s in servers for f in s.fired]
    deadline = time.monotonic() + 10
    seen: dict[str, float] = {}
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = kds.state()
        seen = state["seen"]
        if all(tid in seen for tid, _, _ in fired):
            break
        time.sleep(0.2)
    latencies = [(seen[tid] - acked) * 1000 for tid, acked, _ in fired if tid in seen]
    before = state.get("seen_before_swap", {})
    to_swap = [(before[tid] - acked) * 1000 for tid, acked, _ in fired if tid in before]
    perf = kds.request("perf")
    drawn_after = redraws(kds)
    applied = perf["applied"]
    busy_s = time.time() - started_at

    def cpu_pct(key: str) -> float:  # of one core, over the rush and the wait to draw it
        return round((perf[key] - cpu_before[key]) / busy_s * 100, 1)

    frames = [ms for at, ms in perf["frames"] if started_at <= at <= started_at + seconds]

    def applied_at(index: int) -> float | None:
        return next((at for i, at in applied if i >= index), None)

    to_apply = [(applied_at(i) - acked) * 1000 for _, acked, i in fired if applied_at(i)]
    apply_to_draw = [(seen[t] - applied_at(i)) * 1000 for t, _, i in fired
                     if t in seen and applied_at(i)]  # fmt: skip
    handed = perf["handed"]

    def parts_of(tid: str, acked: float, index: int) -> dict[str, float | None]:
        """One fire's time, in steps: the KDS's node applied it, the feed handed it over,
        the UI thread began and ended applying it, the frame showing it began, its swap
        began and ended."""
        over, ui_start, ui_end = handed.get(tid) or (None, None, None)
        began = state.get("draw_began", {}).get(tid)
        steps = [acked, applied_at(index), over, ui_start, ui_end, began, before.get(tid),
                 seen.get(tid)]  # fmt: skip
        names = ("to_kds_applied", "to_handed_over", "to_ui_thread", "applying",
                 "to_frame", "drawing", "swap")  # fmt: skip
        return {
            **{
                name: round((b - a) * 1000, 1) if a is not None and b is not None else None
                for name, a, b in zip(names, steps[:-1], steps[1:], strict=True)
            },
            "gap": state.get("gap_parts", {}).get(tid),
        }

    slowest = sorted(fired, key=lambda f: seen.get(f[0], float("inf")) - f[1])[-3:]
    return {
        "load_average": [load_at_start, load_average()],
        "seconds": seconds,
        "slowest_fires": [parts_of(*f) for f in slowest],
        "fires": len(fired),
        "fires_per_s": round(len(fired) / seconds, 2),
        "bumps": cook.bumped,
        "errors": sum(s.errors for s in servers),
        "never_drawn": sum(1 for tid, _, _ in fired if tid not in seen),
        # Ticket cards the KDS built from its start to the rush's end (ahead or for a ticket).
        "kds_cards_made": state.get("cards_made"),
        "fire_to_screen": summary(latencies),
        # Every fire's, so that runs of the same code can be pooled: a run's p99 is one of
        # its few slowest fires, and the spread between runs is large.
        "fire_to_screen_all_ms": sorted(round(ms, 1) for ms in latencies),
        "fire_to_swap_start": summary(to_swap),
        "ack_to_kds_applied": summary(to_apply),
        "kds_applied_to_drawn": summary(apply_to_draw),
        "kds_fetch": summary(perf["pass_ms"]),
        "kds_fetch_to_ui": summary(perf["queued_ms"]),
        "kds_wait_for_ui": wait_breakdown(perf["waits"]),
        # Frames the KDS drew during the rush, and its buffer swaps (the software render
        # and the copy to the X server under Xvfb): the UI thread's fixed cost per frame.
        "kds_frames_per_s": round(len(frames) / seconds, 1),
        "kds_ui_cpu_pct": cpu_pct("ui_cpu_s"),
        # What the screen asked its node, per second: each status hashes the whole ledger.
        "kds_node_calls_per_s": {
            op: round((n - cpu_before["calls"].get(op, 0)) / busy_s, 2)
            for op, n in sorted(perf["calls"].items())
        },
        "kds_process_cpu_pct": cpu_pct("process_cpu_s"),
        "kds_flip": summary(frames),
        # The UI thread's CPU from applying a ticket list to the end of the swap of the
        # frame that shows it: its own work for a new ticket, less moved by other load.
        "kds_ui_cpu_per_update": summary(perf["redraw_cpu_ms"]),
        "kds_ui_cpu_per_update_all_ms": sorted(round(ms, 2) for ms in perf["redraw_cpu_ms"]),
        "kds_gc": gc_summary(perf),
        "kds_redraws": redraws_between(drawn_before, drawn_after, kds_window(kds)),
    }


def wait_breakdown(waits: list[dict[str, float]]) -> dict[str, Any]:
    """From the end of the feed's pass to the UI thread applying its tickets: the wait,
    and for the slowest twentieth of them what the UI thread was doing meanwhile (mean ms
    of each: a frame's draw and swap, the clock's callbacks and its run before a frame,
    and inside those the once-a-second tick, another apply, label images and layouts;
    ``other``: waiting for the interpreter)."""
    totals = [w["total"] for w in waits]
    slow = sorted(waits, key=lambda w: w["total"])[-max(1, len(waits) // 20) :]
    mean: dict[str, float] = {}
    # inside the clock's spans (and the UI thread's CPU in two of them)
    nested = ("label images", "layouts", "tick", "apply", "label images cpu", "layouts cpu")
    for w in slow:
        parts = dict(w)
        outer = sum(v for k, v in w.items() if k not in nested and k != "total")
        parts["other"] = max(0.0, w["total"] - outer)
        for k, v in parts.items():
            mean[k] = mean.get(k, 0.0) + v / len(slow)
    return {**summary(totals), "slowest_mean_ms": {k: round(v, 1) for k, v in mean.items()}}


def kds_window(kds: Kds) -> tuple[int, int]:
    size = kds.state().get("window") or (1, 1)
    return int(size[0]), int(size[1])


def gc_summary(perf: dict[str, Any]) -> dict[str, Any]:
    """The KDS process's garbage collections: a full one (generation 2) walks every object
    of the process while every thread, the UI's too, waits for it."""
    gcs = {
        gen: {"n": len(ms), "total_ms": round(sum(ms), 1), "max_ms": round(max(ms, default=0), 1)}
        for gen, ms in perf["gc_ms"].items()
    }
    return {"objects": perf["objects"], "by_generation": gcs}


def by_kind(parts: list[tuple[str, dict[str, float]]]) -> dict[str, dict[str, Any]]:
    """Each kind of update's redraws: the whole (p50, p99, n) and the p50 of each part."""
    out: dict[str, dict[str, Any]] = {}
    for kind in sorted({k for k, _ in parts}):
        mine = [p for k, p in parts if k == kind and "total" in p]
        if mine:
            out[kind] = {
                **summary([p["total"] for p in mine]),
                "parts_p50_ms": {
                    part: round(pct([p[part] for p in mine], 50), 2)
                    for part in ("apply", "draw", "swap")
                },
                # Which part the tail is made of: the slowest update's, whole.
                "slowest_ms": {
                    part: round(v, 2) for part, v in max(mine, key=lambda p: p["total"]).items()
                },
            }
    return out


def run_redraw(root: Path, kds: Kds, seconds: float, together: bool) -> dict[str, Any]:
    client = ControlClient(root / "n1", timeout=10)
    server = Server(root, "n2", 99, 0, threading.Event())
    while len(client.tickets(station="expo")["tickets"]) < OPEN_TICKETS:
        server.submit({"type": "open_check", "by": "s-ana", "table": "T", "guests": 1})
        checks = client.checks()["checks"]
        check = checks[-1]["id"]
        server.submit({"type": "add_items", "by": "s-ana", "check": check,
                       "items": [{"item": "burger", "modifiers": ["mod-bacon"]},
                                 {"item": "fries", "qty": 2}, {"item": "ipa"}]})  # fmt: skip
        server.submit({"type": "fire", "by": "s-ana", "check": check})
    kds.wait_for("60 tickets on the rail", lambda s: len(s["order"]) >= OPEN_TICKETS, 30)
    kds.request("perf", reset=True)
    drawn_before = redraws(kds)
    load_at_start = load_average()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        oldest = client.tickets(station="expo")["tickets"][0]["id"]
        client.submit({"type": "bump", "by": "k-dev", "ticket": oldest})
        if not together:
            # Each update drawn on its own: on a real site the other nodes replicating
            # the next fire are other devices, not this screen's two cores.
            time.sleep(APART_S)
        check = client.checks()["checks"][-1]["id"]
        server.submit({"type": "add_items", "by": "s-ana", "check": check,
                       "items": [{"item": "salmon", "note": "no butter"}]})  # fmt: skip
        server.submit({"type": "fire", "by": "s-ana", "check": check})
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    perf = kds.request("perf")
    drawn = redraws_between(drawn_before, redraws(kds), kds_window(kds))
    redraw_ms = perf["redraw_ms"]
    # The same page drawn again and again with nothing else happening: what one frame
    # costs the KDS's process in CPU. Less moved by other load than any wall time.
    cost = kds.request("frame_cost", timeout=120, frames=FRAME_COST_FRAMES)
    return {
        "load_average": [load_at_start, load_average()],
        "schedule": "together" if together else "apart",
        "open_tickets": len(kds.state()["order"]),
        "redraw": summary(perf["redraw_swapped_ms"]),
        "redraw_all_ms": sorted(round(ms, 1) for ms in perf["redraw_swapped_ms"]),
        "redraw_by_kind": by_kind(perf["redraw_parts"]),
        "redraw_to_swap_start": summary(redraw_ms),
        "redraw_ui_cpu": summary(perf["redraw_cpu_ms"]),
        "gc": gc_summary(perf),
        "frame_cpu_ms": round(cost["cpu_ms_per_frame"], 1),
        "frame_ui_cpu_ms": round(cost["ui_cpu_ms_per_frame"], 1),
        "frame_flip": summary(cost["flip_ms"]),
        "redraws": drawn,
    }


def ui_thread_scheduling(pid: int) -> str:
    """How the KDS's UI thread (its process's first) is scheduled: "real-time" or "normal"."""
    policy = os.sched_getscheduler(pid) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)
    return "real-time" if policy in (os.SCHED_RR, os.SCHED_FIFO) else "normal"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    # Under Xvfb the frame is rendered in software: its size is most of the UI's cost.
    parser.add_argument("--window", default="1920x1080", help="KDS window WxH")
    parser.add_argument("--together", action="store_true",
                        help="redraw: fire right after each bump, not 0.5 s later")  # fmt: skip
    parser.add_argument("--full-redraw", action="store_true",
                        help="every frame whole (kitchen.json: partial_redraw false)")  # fmt: skip
    parser.add_argument("--normal-priority", action="store_true",
                        help="the KDS draws at normal priority (kitchen.json: draw_priority "
                             "normal), not real-time where allowed")  # fmt: skip
    args = parser.parse_args()
    reason = xvfb_missing()
    if reason:
        print(f"skipped: {reason}")
        return 0
    rush_s, redraw_s = (15.0, 8.0) if args.quick else (60.0, 20.0)
    reaper = ProcessReaper()
    with tempfile.TemporaryDirectory(prefix="tm-kitchen-bench-") as tmp:
        root = Path(tmp)
        devices = [DeviceSpec(name=n) for n in TERMINALS]
        devices.append(DeviceSpec(name="k1", role="kds", station="expo"))
        init_site(root, devices, site="bench")
        width, height = (int(x) for x in args.window.split("x"))
        settings: dict[str, Any] = {"default_staff": "k-dev", "width": width, "height": height}
        if args.full_redraw:
            settings["partial_redraw"] = False
        if args.normal_priority:
            settings["draw_priority"] = "normal"
        (root / "k1" / "kitchen.json").write_text(json.dumps(settings))
        kds: Kds | None = None
        try:
            for name in TERMINALS:
                reaper.spawn([sys.executable, "-m", "mesh", "node", "--data", str(root / name)],
                             log=root / name / "node.log")  # fmt: skip
            kds = Kds(reaper, root / "k1", "expo", log=root / "kds.log").ready()
            drawing = ui_thread_scheduling(kds.proc.pid)
            kds.wait_for("the node in the quorum", lambda s: s["dot"] != "cut_off", 30)
            rush = run_rush(root, kds, rush_s)
            redraw = run_redraw(root, kds, redraw_s, args.together)
        finally:
            if kds is not None:
                kds.close()
            reaper.reap()
    figures = {"nodes": 5, "window": args.window, "full_redraw": args.full_redraw,
               "kds_ui_thread": drawing, "rush": rush, "sixty_open": redraw}  # fmt: skip
    print(f"the KDS's UI thread drew at {drawing} priority")
    f2s, rd = rush["fire_to_screen"], redraw["redraw"]
    print(f"dinner rush on 5 nodes: {rush['fires']} fires in {rush_s:g} s "
          f"({rush['fires_per_s']}/s), {rush['bumps']} bumps, {rush['errors']} errors, "
          f"{rush['never_drawn']} never drawn; load average {rush['load_average'][0]} -> "
          f"{rush['load_average'][1]}")  # fmt: skip
    print(f"fire-to-screen: p50 {f2s['p50_ms']} ms  p99 {f2s['p99_ms']} ms  "
          f"max {f2s['max_ms']} ms  (n={f2s['n']}; target p99 < 100 ms)")  # fmt: skip
    f2w = rush["fire_to_swap_start"]
    print(f"  to the start of that frame's swap: p50 {f2w['p50_ms']} ms  p99 {f2w['p99_ms']} ms")
    parts = ("ack_to_kds_applied", "kds_applied_to_drawn", "kds_fetch", "kds_fetch_to_ui",
             "kds_flip", "kds_ui_cpu_per_update")  # fmt: skip
    for part in parts:
        print(f"  {part}: p50 {rush[part]['p50_ms']} ms  p99 {rush[part]['p99_ms']} ms")
    wait = rush["kds_wait_for_ui"]
    print(f"  kds_wait_for_ui: p50 {wait['p50_ms']} ms  p99 {wait['p99_ms']} ms; "
          f"the slowest 5 %, mean: {wait['slowest_mean_ms']}")  # fmt: skip
    for parts in rush["slowest_fires"]:
        print(f"  a slowest fire, ms: {parts}")
        print(f"    applied -> its frame began, the UI thread's spans: {parts['gap']}")
    ui, proc = rush["kds_ui_cpu_pct"], rush["kds_process_cpu_pct"]
    print(f"  kds frames drawn: {rush['kds_frames_per_s']}/s; CPU of one core: "
          f"UI thread {ui}%, whole KDS process {proc}%")  # fmt: skip
    print(f"redraw with {redraw['open_tickets']} open tickets: p50 {rd['p50_ms']} ms  "
          f"p99 {rd['p99_ms']} ms  max {rd['max_ms']} ms  (n={rd['n']}; "
          f"one frame at 60 Hz = 16.7 ms; load average {redraw['load_average'][0]} -> "
          f"{redraw['load_average'][1]}; fire {redraw['schedule']} from bump)")  # fmt: skip
    rw = redraw["redraw_to_swap_start"]
    print(f"  to the start of the frame's swap: p50 {rw['p50_ms']} ms  p99 {rw['p99_ms']} ms")
    for kind, k in redraw["redraw_by_kind"].items():
        print(f"  {kind}: p50 {k['p50_ms']} ms  p99 {k['p99_ms']} ms  (n={k['n']}); "
              f"p50 of its parts: {k['parts_p50_ms']}; the slowest: {k['slowest_ms']}")  # fmt: skip
    rc = redraw["redraw_ui_cpu"]
    print(f"  CPU of the UI thread per update, to the end of its frame's swap: "
          f"p50 {rc['p50_ms']} ms  p99 {rc['p99_ms']} ms")  # fmt: skip
    for phase, stats in (("rush", rush["kds_gc"]), ("sixty open", redraw["gc"])):
        full = stats["by_generation"]["2"]
        print(f"  kds garbage collections, {phase}: {stats['objects']} objects; full ones "
              f"{full['n']}, longest {full['max_ms']} ms")  # fmt: skip
    calls = ", ".join(f"{op} {n}" for op, n in rush["kds_node_calls_per_s"].items())
    print(f"  kds calls to its node per second: {calls}")
    for phase, drawn in (("rush", rush["kds_redraws"]), ("sixty open", redraw["redraws"])):
        if drawn is None:
            continue
        share = drawn["partial_share"]
        part = (f", {share:.0%} of the window in {drawn['passes_per_partial']} passes each on "
                "average" if share is not None else "")  # fmt: skip
        print(f"  kds frames, {phase}: {drawn['full']} whole, {drawn['partial']} in part{part}; "
              f"{drawn['copies']} moved cards copied")  # fmt: skip
        whole = ", ".join(f"{why}: {n}" for why, n in drawn["why_whole"].items())
        print(f"    drawn whole because of: {whole or 'nothing'}; finding what changed took "
              f"{drawn['walk_ms_per_frame']} ms a frame on average "
              f"(longest so far {drawn['walk_max_ms']} ms)")  # fmt: skip
    swap = redraw["frame_flip"]["p50_ms"]
    print(f"one frame at {redraw['open_tickets']} open tickets, nothing else changing: "
          f"{redraw['frame_cpu_ms']} ms of CPU ({redraw['frame_ui_cpu_ms']} ms on the UI thread), "
          f"swap p50 {swap} ms")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "kitchen.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
