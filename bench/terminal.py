"""Terminal figures: tap "add item" to the line on screen, here and on a second terminal; RSS.

    python bench/terminal.py                 # 200 taps, then a 3-minute simulated shift
    python bench/terminal.py --quick         # 40 taps, 30 s shift
    python bench/terminal.py --taps 500 --shift-s 600
    python bench/terminal.py --taps 200 --shift-s 0   # latency only
    python bench/terminal.py --taps 0 --shift-checks 120  # a 4-hour shift's checks, RSS

Runs a real 3-node site on loopback: terminal A (node n1) and terminal B (node
n2) are Kivy windows on one Xvfb screen, n3 is a headless node. Both terminals
show the same check. Each sample taps a menu item on A and records, in each
app's process, the monotonic time at the end of the buffer swap of the frame
that showed:

- on A, the new line marked SENDING (drawn in the tap's own frame, before the
  site has it: the same terminal's target);
- on A, the check's "Due" line with the new total (the ledger's line and the
  total come from one read of the check, once the node has applied the line);
- on B, the same (the other terminal, through its own node's watch).

Both processes read the same system monotonic clock. The frames drawn from the
tap to the SENDING line are counted too.

Wall-clock latency on a shared machine follows its load; the CPU time each
terminal's process spends per tap (its frames, its Kivy work and the node inside
it, from /proc/PID/stat) does much less, so it is printed too, and is the figure
to compare two versions of the app by on a busy machine.

The shift then drives A by touch, round after round (open a check, add six
items, fire, pay cash exactly, close), sampling A's resident memory (VmRSS).

``--shift-checks N`` runs a shift by its number of checks instead of its length,
faster than real time: each check is opened, fired, paid and closed on A by
touch, two of its lines are tapped on A and four arrive from another device (n3,
as a second server's orders would), and A's RSS is sampled after every check,
beside that of n3 (a node alone, holding the same ledger). The slope over the
second half of the shift says whether A's memory is flat; A's slope less n3's is
what the app itself keeps (the rest is the day's ledger, which every node holds).
Needs Xvfb and libmtdev1, as the UI tests do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mesh.client.api import ControlClient
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper
from tests.support.ui import UiApp, VirtualScreen, ui_unavailable
from tests.terminal.flows import add_item, login, open_check

MENU_SODA = {"text": "Soda\n$3.50", "index": 0}
SENDING_MARK = "SENDING"  # a line tapped on this terminal and not acknowledged yet
SETTLE_S = 1.0  # s after the last tap before reading CPU time (animations a tap started)
SHIFT_CHECKS_4H = 120  # a busy terminal's 4-hour shift: 30 checks an hour
# Four lines another device adds to each check of the fast shift (the last is waited for).
REMOTE_ITEMS = ("fries", "ipa", "cake", "salmon")
REMOTE_LAST = "Grilled salmon"
FLAT_MB = 5.0  # "flat": the second half's slope adds less than this over a whole shift


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_ms(pid: int) -> float:
    """CPU time (user + system, every thread) the process has used so far, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Taps(NamedTuple):
    """Per tap, ms from the tap to: the line on A (as sending), A's check with the
    ledger's line and total, the same on B; then the CPU ms A and B used per tap."""

    sending: list[float]
    frames: list[int]  # frames drawn from the tap to the sending line, that one too
    here: list[float]
    there: list[float]
    cpu_a: float
    cpu_b: float


def latency(a: UiApp, b: UiApp, taps: int) -> Taps:
    sending: list[float] = []
    frames: list[int] = []
    here: list[float] = []
    there: list[float] = []
    cpu_a, cpu_b = cpu_ms(a.proc.pid), cpu_ms(b.proc.pid)
    for _ in range(taps):
        on_b = b.watch_change(id="balance", timeout=30)
        on_a = a.watch_change(id="balance", timeout=30)
        row = a.receive(
            a.watch_change(text=SENDING_MARK, contains=True, then_tap=MENU_SODA, timeout=30), 45
        )
        seen_a, seen_b = a.receive(on_a, 45), b.receive(on_b, 45)
        tapped = float(row["tap_at"])
        sending.append((float(row["at"]) - tapped) * 1000)
        frames.append(int(row.get("frames", 0)))
        here.append((float(seen_a["at"]) - tapped) * 1000)
        there.append((float(seen_b["at"]) - tapped) * 1000)
    time.sleep(SETTLE_S)  # what a tap sets going after its line is shown counts too
    return Taps(
        sending,
        frames,
        here,
        there,
        (cpu_ms(a.proc.pid) - cpu_a) / taps,
        (cpu_ms(b.proc.pid) - cpu_b) / taps,
    )


def frame_cost(a: UiApp, taps: int) -> tuple[list[float], float]:
    """Tap -> shown for a change that never leaves the screen (the course picker relabels
    the Fire button): what one frame costs on this machine's GL, with no node involved;
    and the CPU ms A used per change."""
    out = []
    start = cpu_ms(a.proc.pid)
    for i in range(taps):
        course = {"id": f"course_{2 if i % 2 == 0 else 1}", "index": 0}
        reply = a.receive(a.watch_change(id="fire_course", then_tap=course, timeout=10))
        out.append((float(reply["at"]) - float(reply["tap_at"])) * 1000)
    time.sleep(SETTLE_S)
    return out, (cpu_ms(a.proc.pid) - start) / taps


def fire_pay_close(app: UiApp) -> None:
    """Fire the open check, pay it exactly in cash and close it, by touch."""
    app.tap(id="fire_all")
    app.wait("FIRED", contains=True)
    app.tap(id="pay_button")
    app.tap("Exact")
    app.tap("Cash", index=0)
    app.wait("Change")
    app.tap(id="close_check")
    app.wait(id="new_check")


def shift(a: UiApp, seconds: float) -> list[tuple[float, float, int]]:
    """Whole checks by touch until ``seconds`` have passed; (elapsed s, RSS MB, checks)."""
    samples = [(0.0, rss_mb(a.proc.pid), 0)]
    start = time.monotonic()
    done = 0
    while time.monotonic() - start < seconds:
        a.tap(id="floor_button")
        open_check(a, str(20 + done % 60))
        for category, item in (("Mains", "Grilled salmon"), ("Drinks", "Soda")) * 3:
            add_item(a, category, item)
        fire_pay_close(a)
        done += 1
        samples.append((time.monotonic() - start, rss_mb(a.proc.pid), done))
    return samples


def measure_taps(a: UiApp, b: UiApp, taps: int, leader: str) -> None:
    load_before = os.getloadavg()[0]
    frame, frame_cpu = frame_cost(a, 30)
    t = latency(a, b, taps)
    where = {"n1": "terminal A's own node", "n2": "terminal B's node", "n3": "the headless node"}
    print(
        f"tap 'add item' -> line on screen, {taps} taps, 3-node cluster on loopback "
        f"(leader {leader}: {where.get(leader, '?')})"
    )
    print(
        f"  one frame (a screen-only change, no node): "
        f"p50 {statistics.median(frame):.1f} ms, p99 {pct(frame, 99):.1f} ms, "
        f"CPU {frame_cpu:.1f} ms"
    )
    for name, values, target in (
        ("same terminal, line shown (sending)", t.sending, "(target p99 < 50 ms)"),
        ("same terminal, acknowledged line and total", t.here, ""),
        ("other terminal, line and total", t.there, "(target p99 < 150 ms)"),
    ):
        print(
            f"  {name:<42} p50 {statistics.median(values):6.1f} ms   "
            f"p99 {pct(values, 99):6.1f} ms   max {max(values):6.1f} ms   {target}"
        )
    counts = {n: t.frames.count(n) for n in sorted(set(t.frames))}
    print(
        "  frames drawn from the tap to the sending line (that one too): "
        + ", ".join(f"{n}: {c} taps" for n, c in counts.items())
    )
    print(
        f"  CPU per tap (the process, node inside): terminal A {t.cpu_a:.1f} ms, "
        f"terminal B {t.cpu_b:.1f} ms"
    )
    print(f"  load average (1 min) {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 with fewer than two distinct x)."""
    if len({x for x, _ in points}) < 2:
        return 0.0
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    num = sum((x - mx) * (y - my) for x, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return num / den


def fast_shift(a: UiApp, other: ControlClient, node_pid: int, checks: int) -> list[Sample]:
    """``checks`` whole checks on A, as fast as A answers; a sample after each."""
    samples = [Sample(0, 0.0, rss_mb(a.proc.pid), rss_mb(node_pid))]
    start = time.monotonic()
    for done in range(1, checks + 1):
        a.tap(id="floor_button")
        open_check(a, str(20 + done % 60))
        add_item(a, "Mains", "Grilled salmon")
        add_item(a, "Drinks", "Soda")
        ref = a.find(id="header")["text"].split()[2]  # "Table 21   A1-7 ..." -> "A1-7"
        items = [{"item": i, "qty": 1, "seat": 2, "course": 1} for i in REMOTE_ITEMS]
        reply = other.submit({"type": "add_items", "by": "s-ana", "check": ref, "items": items})
        assert reply.get("ok"), reply
        # Two matches: the salmon tapped above and n3's (the menu shows Drinks by now).
        a.wait(REMOTE_LAST, contains=True, index=1)
        fire_pay_close(a)
        samples.append(Sample(done, time.monotonic() - start, rss_mb(a.proc.pid), rss_mb(node_pid)))
    return samples


class Sample(NamedTuple):
    checks: int
    elapsed_s: float
    app_mb: float
    node_mb: float


def report_shift(samples: list[Sample]) -> None:
    last = samples[-1]
    second = samples[len(samples) // 2 :]
    app_slope = slope([(s.checks, s.app_mb) for s in second])
    node_slope = slope([(s.checks, s.node_mb) for s in second])
    per_shift = app_slope * SHIFT_CHECKS_4H
    flat = per_shift < FLAT_MB
    print(
        f"fast shift on terminal A: {last.checks} checks in {last.elapsed_s:.0f} s "
        f"(each: open, 2 lines tapped + 4 from n3, fire, pay cash, close)"
    )
    marks = [samples[0], samples[len(samples) // 4], samples[len(samples) // 2], last]
    print(
        "  RSS of A by checks done: " + ", ".join(f"{s.checks}: {s.app_mb:.0f} MB" for s in marks)
    )
    print(
        f"  RSS of n3 (a node alone, same ledger): {samples[0].node_mb:.0f} -> "
        f"{last.node_mb:.0f} MB"
    )
    print(
        f"  second half slope: A {app_slope * 100:+.2f} MB per 100 checks, "
        f"n3 {node_slope * 100:+.2f}, app's own {(app_slope - node_slope) * 100:+.2f}; "
        f"over a {SHIFT_CHECKS_4H}-check shift A grows {per_shift:+.1f} MB: "
        f"{'flat' if flat else 'NOT flat'} (flat: < {FLAT_MB:g} MB); "
        f"peak {max(s.app_mb for s in samples):.0f} MB (target < 250 MB)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--taps", type=int, default=200)
    parser.add_argument("--shift-s", type=float, default=180.0)
    parser.add_argument(
        "--shift-checks",
        type=int,
        default=0,
        help=f"Instead of --shift-s: this many checks, faster than real time "
        f"({SHIFT_CHECKS_4H} is a 4-hour shift).",
    )
    parser.add_argument("--logs", type=Path, help="Keep the apps' logs here.")
    args = parser.parse_args()
    taps, shift_s = (40, 30.0) if args.quick else (args.taps, args.shift_s)
    reason = ui_unavailable()
    if reason:
        print(f"skipped: {reason}")
        return 0
    reaper = ProcessReaper()
    with tempfile.TemporaryDirectory(prefix="tablemesh-bench-") as tmp:
        try:
            root = Path(tmp)
            site = Cluster(root / "site", reaper, nodes=3)
            pins = {login.staff_id: login.pin for login in site.logins}
            site.start(["n3"])
            screen = VirtualScreen(reaper)
            art = args.logs or root / "artifacts"
            a = UiApp(
                reaper, screen, "terminal.main:run", [site.data("n1")], artifacts=art, name="A"
            )
            b = UiApp(
                reaper, screen, "terminal.main:run", [site.data("n2")], artifacts=art, name="B"
            )
            login(a, pins["s-ana"])
            login(b, pins["s-ana"])
            open_check(a, "1")
            a.tap("Drinks")
            b.tap("Table 1")
            b.wait(id="balance")
            add_item(a, "Drinks", "Soda")  # warm up both paths once
            b.wait("Soda", contains=True)
            if taps > 0:
                # A follower's tap goes through the leader and back: say which path this was.
                measure_taps(a, b, taps, site.leader(["n1", "n2", "n3"]))
            b.close()
            if args.shift_checks > 0:
                node_pid = site.procs["n3"].pid
                report_shift(fast_shift(a, site.client("n3"), node_pid, args.shift_checks))
            elif shift_s > 0:
                samples = shift(a, shift_s)
                first, last = samples[0], samples[-1]
                peak = max(s[1] for s in samples)
                half = samples[len(samples) // 2]
                print(
                    f"simulated shift on terminal A: {last[2]} checks by touch in "
                    f"{last[0]:.0f} s (each: open, 6 items, fire, pay cash, close)"
                )
                print(
                    f"  RSS start {first[1]:.0f} MB, middle {half[1]:.0f} MB, "
                    f"end {last[1]:.0f} MB, peak {peak:.0f} MB (target < 250 MB and flat)"
                )
            a.close()
        finally:
            reaper.reap()
    return 0


if __name__ == "__main__":
    sys.exit(main())
