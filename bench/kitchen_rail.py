"""The KDS's own cost of a bump on a 60-ticket rail: one process, no cluster, no node.

    python bench/kitchen_rail.py             # 120 bumps
    python bench/kitchen_rail.py --quick     # 40 bumps
    python bench/kitchen_rail.py --normal-priority   # the window at normal priority

``bench/kitchen.py`` measures the redraw on a live 5-node site, where the frame shares
the machine's two cores with five nodes, the bench's clients and the X server, and its
figures move with that load. This one measures what the screen itself spends: the real
kitchen app (``KitchenApp``, its rail, its partial frames) in a window on a private
Xvfb, with its node and feed left out. Ticket lists are handed to the app on its UI
thread exactly as the feed hands them (``apply``): 60 open tickets, then every sixth
frame the oldest leaves and a new one joins at the end (the bump the cook sees: the
page's other cards slide one column, the next ticket comes onto the page).

For each bump: applying the list (``apply``), drawing the frame that shows it (from
its start to the buffer swap: finding what changed, copying the moved cards, drawing
what is left) and the swap (under Xvfb, where the software renderer rasterizes), and
their sum, the figure of the redraw target (one frame at 60 Hz = 16.7 ms). Also the
pixels each bump frame drew and the cards it copied. Needs Xvfb. Writes
``bench/results/kitchen_rail.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

OPEN_TICKETS = 60
FRAMES_BETWEEN = 6  # a bump every sixth frame: the frames between settle (timers, spares)
SETTLE_FRAMES = 40  # frames after the first list before bumps start (and the probe is done)
PARTS = ("apply", "draw", "swap", "total")
INNER_S = 600  # the window's whole run, bounded


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def inner(bumps: int, width: int, height: int, priority: str) -> int:
    """Runs in the window's process: prints one JSON line of per-bump figures."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kitchen.main import configure_kivy
    from kitchen.settings import KitchenSettings

    settings = KitchenSettings(
        default_staff="k-dev", width=width, height=height, draw_priority=priority
    )
    configure_kivy(settings)
    from kivy.clock import Clock
    from kivy.core.window import Window

    from kitchen.app import KitchenApp
    from kitchen.feed import Snapshot
    from kitchen.model import ItemView, TicketView

    class NoNode:
        """The app's client: this bench hands it ticket lists itself."""

        def watch(self, _callback: Any) -> Any:
            return lambda: None

    made = [0]

    def ticket() -> TicketView:
        made[0] += 1
        n = made[0]
        items = (
            ItemView(f"l{n}a", 1, "Copper burger", ("Medium", "Add bacon"), "", 1, "new"),
            ItemView(f"l{n}b", 2, "Fries", (), "", 1, "new"),
            ItemView(f"l{n}c", 1, "Ribeye 14oz", ("Rare",), "sauce on the side" if n % 3 else "",
                     2, "new"),
        )  # fmt: skip
        return TicketView(
            id=f"t{n:04d}", check=f"A{n:03d}", synced=False, table=str(n % 40 + 1),
            server="Ana", station="grill", course=None,
            created_at=int(time.time() * 1000) - 1000 * (OPEN_TICKETS + 10 - n), items=items,
            check_id=f"c{n}",
        )  # fmt: skip

    app = KitchenApp(NoNode(), settings, "grill")
    # The feed would ask a node; here the lists come from the bench, on the UI thread.
    app.feed.start = lambda: None
    app.feed.stop = lambda: None
    status = {"ok": True, "dot": "green", "role": "follower", "in_quorum": True}
    tickets = [ticket() for _ in range(OPEN_TICKETS)]
    got: dict[str, list[float]] = {k: [] for k in (*PARTS, "kpx", "copies")}
    state: dict[str, Any] = {"frames": 0, "bumps": 0, "apply_ms": None, "drawn_at": 0.0,
                             "copies": 0, "bumping": False}  # fmt: skip

    def on_draw(*_: Any) -> None:
        state["drawn_at"] = time.perf_counter()

    def timed_flip(plain: Any) -> Any:
        def flip() -> None:
            began = time.perf_counter()
            plain()
            ended = time.perf_counter()
            if state["apply_ms"] is None:
                return
            apply_ms, draw_ms = state["apply_ms"], (began - state["drawn_at"]) * 1000
            swap_ms = (ended - began) * 1000
            for key, ms in zip(PARTS, (apply_ms, draw_ms, swap_ms, apply_ms + draw_ms + swap_ms),
                               strict=True):  # fmt: skip
                got[key].append(ms)
            w, h = int(Window.width), int(Window.height)
            boxes = app.partial.last
            px = w * h if boxes is None else sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes)
            got["kpx"].append(px / 1000)
            got["copies"].append(app.partial.stats.copies - state["copies"])
            state["copies"] = app.partial.stats.copies
            state["apply_ms"] = None

        return flip

    def step(_dt: float) -> None:
        state["frames"] += 1
        if not state["bumping"]:
            if state["frames"] == 1:
                app.apply(Snapshot(status=status, tickets=list(tickets), fetched=True))
            elif app.banner:  # a screen cut off is not the one a cook works with
                print(json.dumps({"error": f"the screen shows a banner: {app.banner}"}), flush=True)
                app.stop()
            elif state["frames"] > SETTLE_FRAMES and app.partial.active:
                Window.flip = timed_flip(Window.flip)
                state.update(bumping=True, frames=0, copies=app.partial.stats.copies)
            elif state["frames"] > 20 * SETTLE_FRAMES:
                print(json.dumps({"error": "frames never drawn in part"}), flush=True)
                app.stop()
            return
        if state["frames"] % FRAMES_BETWEEN:
            return
        if state["bumps"] >= bumps:
            stats = app.partial.stats
            realtime = os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR
            print(json.dumps({**got, "whole_frames": stats.full, "partial_frames": stats.partial,
                              "renderer": app.partial.active,
                              "ui_thread": "real-time" if realtime else "normal"}),
                  flush=True)  # fmt: skip
            app.stop()
            return
        state["bumps"] += 1
        tickets.pop(0)
        tickets.append(ticket())
        started = time.perf_counter()
        app.apply(Snapshot(status=status, tickets=list(tickets), fetched=True))
        state["apply_ms"] = (time.perf_counter() - started) * 1000

    Window.bind(on_draw=on_draw)
    Clock.schedule_interval(step, 0)
    app.run()
    return 0


def figures(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 2), "p90": round(pct(values, 90), 2),
            "p99": round(pct(values, 99), 2), "max": round(max(values), 2)}  # fmt: skip


def summary(values: list[float]) -> str:
    return "  ".join(f"{k} {v:.2f}" for k, v in figures(values).items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 bumps instead of 120")
    parser.add_argument("--window", default="1920x1080", help="KDS window WxH")
    parser.add_argument("--json", type=Path, default=RESULTS / "kitchen_rail.json",
                        help="where the figures go (bench/results/kitchen_rail.json)")  # fmt: skip
    parser.add_argument("--normal-priority", action="store_true",
                        help="draw at normal priority, not real-time where allowed")  # fmt: skip
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = (int(x) for x in args.window.split("x"))
    bumps = 40 if args.quick else 120
    priority = "normal" if args.normal_priority else "realtime"
    if args.inner:
        return inner(bumps, width, height, priority)
    from tests.kitchen.harness import Display, xvfb_missing
    from tests.support.procs import ProcessReaper

    reason = xvfb_missing()
    if reason:
        print(f"skipped: {reason}")
        return 0
    reaper = ProcessReaper()
    with tempfile.TemporaryDirectory(prefix="tm-kitchen-rail-") as tmp:
        out = Path(tmp) / "window.log"
        try:
            display = Display(reaper, Path(tmp) / "xvfb.log")
            env = {**os.environ, "DISPLAY": display.name, "PYTHONPATH": str(ROOT)}
            env.pop("WAYLAND_DISPLAY", None)
            argv = [sys.executable, str(Path(__file__).resolve()), "--inner",
                    "--window", args.window, *(["--quick"] if args.quick else []),
                    *(["--normal-priority"] if args.normal_priority else [])]  # fmt: skip
            proc = reaper.spawn(argv, log=out, env=env)
            code = proc.wait(timeout=INNER_S)
        finally:
            reaper.reap()  # the window's process and its X server, by pid, also on failure
        text = out.read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if ln.startswith("{")]
    if code != 0 or not lines:
        sys.stderr.write(text[-3000:])
        print("failed: the window's process gave no figures")
        return 1
    got = json.loads(lines[-1])
    if "error" in got:
        print(f"failed: {got['error']}")
        return 1
    n = len(got["total"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "bumps": n,
        "window": args.window,
        "open_tickets": OPEN_TICKETS,
        "load_average": os.getloadavg()[0],
        "ui_thread": got["ui_thread"],
        "ms": {part: figures(got[part]) for part in PARTS},
        "kpx_per_bump_p50": statistics.median(got["kpx"]),
        "frames": {"partial": got["partial_frames"], "whole": got["whole_frames"]},
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"bump on a {OPEN_TICKETS}-ticket rail, the KDS alone (n={n}, window {args.window}, "
          f"load average {os.getloadavg()[0]:.2f}, UI thread at {got['ui_thread']} "
          "priority):")  # fmt: skip
    for part in PARTS:
        print(f"  {part:>5}: {summary(got[part])} ms")
    print(f"  target: total under 16.7 ms (one frame at 60 Hz); "
          f"pixels drawn a bump frame p50 {statistics.median(got['kpx']):.0f} k, "
          f"cards copied p50 {statistics.median(got['copies']):.0f}; "
          f"frames: {got['partial_frames']} in part, {got['whole_frames']} whole")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
