"""Detect threads and child processes a test left behind."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from tests.support.procs import child_pids


@dataclass(frozen=True, slots=True)
class Baseline:
    threads: frozenset[int]
    children: frozenset[int]


def baseline() -> Baseline:
    return Baseline(
        threads=frozenset(t.ident for t in threading.enumerate() if t.ident is not None),
        children=frozenset(child_pids()),
    )


def leftovers(before: Baseline, grace: float) -> list[str]:
    """What is alive now that was not in ``before``, after waiting up to ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while True:
        threads = [
            t for t in threading.enumerate() if t.ident not in before.threads and t.is_alive()
        ]
        children = sorted(child_pids() - before.children)
        if not (threads or children) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return [f"thread {t.name!r}" for t in threads] + [f"child pid {p}" for p in children]
