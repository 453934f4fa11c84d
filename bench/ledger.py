"""Ledger figures: apply throughput for a dinner-rush mix, and snapshot cost for a busy day.

    python bench/ledger.py            # 2,000 checks (a busy day), 3 rounds
    python bench/ledger.py --quick    # 200 checks, 1 round

Prints commands applied per second (the whole mix, every command validated), and
for the day's final state: snapshot bytes, snapshot/hash/restore times, and the
time to save it through SQLAlchemy into a SQLite file. Last, the full garbage
collections while the day is applied again: with the collector's default, and with
the heap collected and frozen every 1,000 entries as a node does (mesh/node/heap.py),
with the whole pause of each collect-and-freeze.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import statistics
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from mesh.ledger import LedgerEntry, LedgerState, apply
from mesh.ledger.check_ids import make_temp_id
from mesh.ledger.models import Base, save_snapshot
from mesh.ledger.sample_catalog import sample_catalog
from mesh.node import heap

DINNER_MS = 1_763_935_200_000  # 2025-11-23 17:00 local (UTC-5)
MAINS = ["burger", "ribeye", "salmon", "chicken"]
STARTERS = ["wings", "calamari", "caesar", "burrata"]
DRINKS = ["ipa", "wine", "old-fashioned", "soda", "water"]
SERVERS = ["s-ana", "s-ben", "b-cleo"]


def dinner_rush(checks: int, seed: int = 7) -> list[dict[str, Any]]:
    """A realistic log: tables open, order drinks, starters, mains (held), pay and close."""
    rng = random.Random(seed)
    log: list[dict[str, Any]] = [
        {"type": "catalog_update", "by": "@setup", "catalog": sample_catalog()}
    ]
    log += [{"type": "clock_in", "by": s} for s in [*SERVERS, "k-dev", "m-eve"]]
    live: list[dict[str, Any]] = []
    made = 0
    while made < checks or live:
        if made < checks and ((len(live) < 40 and rng.random() < 0.5) or not live):
            made += 1
            check = make_temp_id("7QK", made)
            guests = rng.randint(1, 6)
            server = rng.choice(SERVERS)
            live.append({"check": check, "guests": guests, "by": server, "step": 0, "tickets": []})
            log.append({"type": "open_check", "by": server, "check": check,
                        "table": str(rng.randint(1, 40)), "guests": guests})  # fmt: skip
            continue
        table = rng.choice(live)
        check, by, guests = table["check"], table["by"], table["guests"]
        step = table["step"]
        table["step"] += 1
        seats = range(1, guests + 1)
        if step == 0:
            items = [{"item": rng.choice(DRINKS), "seat": s} for s in seats]
            log.append({"type": "add_items", "by": by, "check": check, "items": items})
            log.append({"type": "fire", "by": by, "check": check})
        elif step == 1:
            items = [{"item": rng.choice(STARTERS), "seat": s} for s in seats[::2]]
            items += [
                {"item": main, "seat": s, "course": 2,
                 "modifiers": ["mod-mrare"] if main in ("burger", "ribeye") else []}
                for s, main in ((s, rng.choice(MAINS)) for s in seats)
            ]  # fmt: skip
            log.append({"type": "add_items", "by": by, "check": check, "items": items})
            log.append({"type": "hold_course", "by": by, "check": check, "course": 2})
            log.append({"type": "fire", "by": by, "check": check})
            if rng.random() < 0.05:
                log.append({"type": "void_first", "by": by, "check": check})
        elif step == 2:
            log.append({"type": "fire", "by": by, "check": check, "course": 2})
        elif step == 3:
            log.append({"type": "bump_all", "check": check})  # expanded at apply time
        elif step == 4:
            if rng.random() < 0.3:
                log.append({"type": "pay", "by": by, "check": check, "tender": "voucher",
                            "amount": 500})  # fmt: skip
            log.append({"type": "pay", "by": by, "check": check, "tender": "cash",
                        "tip": rng.randint(0, 2000), "tendered": 100_000})  # fmt: skip
        else:
            log.append({"type": "close_check", "by": by, "check": check})
            live.remove(table)
    return log


def run(
    log: list[dict[str, Any]], keeper: heap.HeapKeeper | None = None
) -> tuple[LedgerState, float, int, Counter[str]]:
    """Apply the log; 'bump_all' becomes one bump per open ticket of the check."""
    state = LedgerState()
    index = 0
    now = DINNER_MS
    kinds: Counter[str] = Counter()
    rejected = 0
    elapsed = 0.0
    for n, raw in enumerate(log):
        if raw["type"] == "bump_all":
            ids = {t for line in state.checks[raw["check"]]["lines"] for t in line["tickets"]}
            commands = [
                {"type": "bump", "by": "k-dev", "ticket": t}
                for t in sorted(ids, key=lambda t: int(t[1:]))
                if state.tickets[t]["status"] == "open"
            ]
        elif raw["type"] == "void_first":
            line = state.checks[raw["check"]]["lines"][0]["id"]
            commands = [{**raw, "type": "void_item", "line": line, "reason": "wrong",
                         "approved_by": "m-eve"}]  # fmt: skip
        else:
            commands = [raw]
        for command in commands:
            index += 1
            now += 150  # ~2,000 checks over a long day
            entry = LedgerEntry(
                index=index, time_ms=now, command={**command, "id": f"c{n}-{index}"}
            )
            t0 = time.perf_counter()
            outcome = apply(state, entry)
            elapsed += time.perf_counter() - t0
            kinds[command["type"]] += 1
            rejected += not outcome.ok
            if keeper is not None:
                keeper.applied(1)
    return state, elapsed, rejected, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 checks, one round")
    args = parser.parse_args()
    checks = 200 if args.quick else 2000
    rounds = 1 if args.quick else 3

    log = dinner_rush(checks)
    rates = []
    for _ in range(rounds):
        state, elapsed, rejected, kinds = run(log)
        total = sum(kinds.values())
        rates.append(total / elapsed)
    print(f"dinner-rush mix: {total} commands for {checks} checks, {rejected} rejected")
    print("  mix: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"  apply: {statistics.median(rates):,.0f} commands/s (median of {rounds})")

    timings: dict[str, list[float]] = {"snapshot": [], "sha256": [], "restore": []}
    for _ in range(rounds):
        t0 = time.perf_counter()
        data = state.snapshot()
        t1 = time.perf_counter()
        # What state_hash() adds to the encoding (it caches per applied index).
        digest = hashlib.sha256(data).hexdigest()
        t2 = time.perf_counter()
        restored = LedgerState.restore(data)
        t3 = time.perf_counter()
        timings["snapshot"].append(t1 - t0)
        timings["sha256"].append(t2 - t1)
        timings["restore"].append(t3 - t2)
    assert restored.state_hash() == digest
    print(f"day of {checks} checks, {len(state.tickets)} tickets, {state.dedup_size()} dedup ids:")
    print(f"  snapshot: {len(data) / 1e6:.2f} MB canonical JSON "
          f"({len(zlib.compress(data, 6)) / 1e6:.2f} MB zlib-6)")  # fmt: skip
    for name, values in timings.items():
        print(f"  {name}: {statistics.median(values) * 1000:.0f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        Base.metadata.create_all(engine)
        t0 = time.perf_counter()
        with Session(engine) as session:
            save_snapshot(session, state)
            session.commit()
        print(f"  save to SQLite: {(time.perf_counter() - t0) * 1000:.0f} ms")
        engine.dispose()

    del state, restored, data
    print("full collections while applying the day (the GIL is held through each):")
    print(f"  collector's default: {full_collection_pauses(log, None)}")
    print(f"  collect and freeze every 1,000 entries: {full_collection_pauses(log, 1000)}")


def full_collection_pauses(log: list[dict[str, Any]], freeze_every: int | None) -> str:
    """Apply the day once more and time the full collections that happen meanwhile.

    ``freeze_every``: collect and freeze the heap every so many entries, as a
    standalone node does (mesh/node/heap.py); None: the collector's default.
    """
    gc.collect()
    keeper = PauseTimingKeeper(freeze_every) if freeze_every else None
    if keeper is not None:
        keeper.freeze_now()  # as a node does at start, before it serves: not counted
    watch = heap.FullCollections()
    gc.callbacks.append(watch)
    try:
        run(log, keeper)
    finally:
        gc.callbacks.remove(watch)
        gc.unfreeze()
    text = (
        f"{watch.count} full collections, longest {watch.longest_s * 1000:.0f} ms, "
        f"total {watch.total_s * 1000:.0f} ms"
    )
    if keeper is not None and keeper.pauses:
        p = sorted(keeper.pauses)
        text += (
            f"; {len(p)} collect-and-freeze pauses, p50 {p[len(p) // 2] * 1000:.1f} ms, "
            f"longest {p[-1] * 1000:.1f} ms, total {sum(p) * 1000:.0f} ms"
        )
    return text


class PauseTimingKeeper(heap.HeapKeeper):
    """A node's heap keeper, with the whole pause of each collect-and-freeze timed (the
    collection, counting what is frozen, the freeze, its log line): what the node's loop
    waits for every 1,000 entries, of which the collector's own callbacks see only the
    collection."""

    def __init__(self, every: int) -> None:
        super().__init__(every)
        self.pauses: list[float] = []

    def applied(self, entries: int) -> None:
        freezes, started = self.freezes, time.perf_counter()
        super().applied(entries)
        if self.freezes > freezes:
            self.pauses.append(time.perf_counter() - started)


if __name__ == "__main__":
    main()
