"""Run every benchmark in bench/, collect their figures in one JSON, draw the plots.

    python bench/run_all.py            # quick mode: each benchmark's --quick
    python bench/run_all.py --full     # the full runs (tens of minutes)
    python bench/run_all.py --only peers --only cluster

``tablemesh bench`` and ``make bench`` run this. Each benchmark runs as its own
process (``python bench/<name>.py``) with a time limit; its output is shown as it
comes and kept in ``bench/results/<name>.log``; the JSON it writes (if any) is
folded into ``bench/results/latest.json`` with the machine's core count and load.
Then ``bench/plots.py`` draws ``bench/results/*.png``. A benchmark that fails or
runs out of time is recorded as such; the others still run. Nothing here asserts
anything about time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"

# name -> seconds allowed in quick mode (full mode allows ten times as much).
BENCHMARKS: dict[str, float] = {
    "raft_core": 300,
    "ledger": 300,
    "transport": 120,
    "writes": 120,
    "cluster": 600,
    "peers": 900,
    "sync": 600,
    "kitchen": 600,
    "kitchen_rail": 300,
    "terminal": 600,
}
FULL_FLAG = {"peers": ["--full"]}  # the others run full when not given --quick


def run_one(name: str, full: bool) -> dict[str, Any]:
    script = BENCH / f"{name}.py"
    if not script.exists():
        print(f"== {name}: not in bench/ (yet), skipped", flush=True)
        return {"exit": None, "skipped": "not in bench/"}
    args = FULL_FLAG.get(name, []) if full else ["--quick"]
    limit = BENCHMARKS[name] * (10 if full else 1)
    print(f"== {name}: python bench/{name}.py {' '.join(args)} (limit {limit:.0f} s)", flush=True)
    json_path = RESULTS / f"{name}.json"
    before = json_path.stat().st_mtime if json_path.exists() else None
    started = time.monotonic()
    log_path = RESULTS / f"{name}.log"
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: a timeout ends it and every node it started
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        os.killpg(proc.pid, signal.SIGKILL)

    timer = threading.Timer(limit, expire)
    timer.start()
    lines: list[str] = []
    assert proc.stdout is not None
    with log_path.open("w") as log:
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            sys.stdout.write("   " + line)
            sys.stdout.flush()
            log.write(line)
            lines.append(line.rstrip("\n"))
    code = proc.wait()
    timer.cancel()
    seconds = round(time.monotonic() - started, 1)
    figures: Any = None
    if json_path.exists() and json_path.stat().st_mtime != before:
        figures = json.loads(json_path.read_text())
    outcome = "timed out" if timed_out.is_set() else f"exit {code}"
    print(f"== {name}: {outcome} after {seconds} s", flush=True)
    return {
        "exit": code,
        "timed_out": timed_out.is_set(),
        "seconds": seconds,
        "args": args,
        "output": lines[-80:],
        "figures": figures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="short runs (the default)")
    mode.add_argument("--full", action="store_true", help="the full runs")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS))
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "mode": "full" if args.full else "quick",
        "started_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_at_start": os.getloadavg(),
        },
        "benchmarks": {},
    }
    for name in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        report["benchmarks"][name] = run_one(name, args.full)
    report["machine"]["loadavg_at_end"] = os.getloadavg()
    latest = RESULTS / "latest.json"
    if args.only and latest.exists():  # a partial run updates, never forgets, the others
        old = json.loads(latest.read_text())
        old["benchmarks"].update(report["benchmarks"])
        old["machine"] = report["machine"]
        report["benchmarks"] = old["benchmarks"]
    latest.write_text(json.dumps(report, indent=1) + "\n")

    from bench.plots import draw_all

    drawn = draw_all(RESULTS)
    print(f"\n{'benchmark':<10} {'result':<10} {'seconds':>8}  figures")
    for name, r in report["benchmarks"].items():
        if r.get("skipped"):
            result = "skipped"
        elif r.get("timed_out"):
            result = "timed out"
        else:
            result = "ok" if r["exit"] == 0 else f"exit {r['exit']}"
        where = f"{name}.json" if r.get("figures") else f"{name}.log"
        print(f"{name:<10} {result:<10} {r.get('seconds', 0):>8}  bench/results/{where}")
    print(f"wrote bench/results/latest.json and {len(drawn)} plots:")
    for path in drawn:
        print(f"  {path.relative_to(ROOT)}")
    failed = [n for n, r in report["benchmarks"].items() if not r.get("skipped") and r["exit"] != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
