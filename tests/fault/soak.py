"""Long fault-injection soaks from the command line.

    python -m tests.fault.soak --seeds N [--seed X] [--duration S] [--nodes K] [--cloud]

Runs seeds X, X+1, ... X+N-1 (X defaults to a seed drawn from the time, printed
so it can be run again), one after another, each with the schedule its seed
makes. Prints each run's verdict line and a summary; exits 1 if any seed failed.
SIGINT or SIGTERM ends the current seed early (it still heals, checks and cleans
up) and stops the soak.
A failing seed reproduces the same fault schedule with ``--seeds 1 --seed X``.
Needs root and network namespaces (exits 2 with the reason otherwise).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
import traceback
from collections import Counter

from tests.fault.harness import run_seed
from tests.support.netns import netns_unavailable_reason

MIN_NODES, MAX_NODES = 3, 7  # the node counts the schedules and the lab are built for


def seed_count(text: str) -> int:
    count = int(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {count}")
    return count


def node_count(text: str) -> int:
    count = int(text)
    if not MIN_NODES <= count <= MAX_NODES:
        raise argparse.ArgumentTypeError(
            f"must be from {MIN_NODES} to {MAX_NODES} nodes, not {count}"
        )
    return count


def seconds(text: str) -> float:
    value = float(text)
    # "nan" and "inf" parse as floats too; neither is a workload length.
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The soak's options; a value out of range exits 2 before any seed starts."""
    parser = argparse.ArgumentParser(prog="python -m tests.fault.soak", description=__doc__)
    parser.add_argument("--seeds", type=seed_count, default=1, help="how many seeds to run (1+)")
    parser.add_argument("--seed", type=int, default=None, help="the first seed")
    parser.add_argument(
        "--duration", type=seconds, default=60.0, help="workload seconds per seed (above 0)"
    )
    parser.add_argument(
        "--nodes",
        type=node_count,
        default=None,
        help=f"force the node count ({MIN_NODES}-{MAX_NODES})",
    )
    parser.add_argument(
        "--cloud",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="force a cloud and cloud faults on or off (default: the seed decides)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reason = netns_unavailable_reason()
    if reason is not None:
        print(f"cannot soak: {reason}", file=sys.stderr)
        return 2
    abort = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        # Finish the current seed early and cleanly (heal, check, remove namespaces).
        print(f"soak: signal {signum}: stopping after this seed's clean-up", flush=True)
        abort.set()

    # Set explicitly: a shell starts background jobs with SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    first = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    print(f"soak: seeds {first}..{first + args.seeds - 1}, {args.duration:g} s each", flush=True)
    started = time.monotonic()
    failed: list[int] = []
    faults: Counter[str] = Counter()
    ops = 0
    ran = 0
    for seed in range(first, first + args.seeds):
        if abort.is_set():
            break
        ran += 1
        try:
            result = run_seed(
                seed,
                duration=args.duration,
                nodes=args.nodes,
                cloud=args.cloud,
                echo=lambda s: print(s, flush=True),
                abort=abort,
            )
        except Exception as exc:  # the site never came up, say: report it, go on
            traceback.print_exc()
            print(f"seed={seed} verdict=ERROR ({type(exc).__name__}: {exc})", flush=True)
            failed.append(seed)
            continue
        faults.update(result.faults)
        ops += result.ops
        if not result.ok:
            failed.append(seed)
    total = time.monotonic() - started
    fault_list = ",".join(f"{k}:{v}" for k, v in sorted(faults.items()))
    print(
        f"soak done: seeds={ran} failed={len(failed)} {failed} ops={ops} "
        f"faults={fault_list} time={total:.0f}s",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
