"""Where the node's next Ready is written: on the loop itself, or on a worker thread.

A Ready's write (a few entries and one fsync) takes a few hundred microseconds.
Handing it to a thread and back costs more than that on a small, shared CPU: the
measured round trip added 0.4 ms of CPU and 0.5-0.7 ms of waiting to every write
(docs/benchmarks.md). So writes run on the loop, which loses nothing for Raft: the
pumper waits for each write before the next Ready wherever it runs, and commands
that arrive meanwhile wait in the socket buffers and join the next batch.

Two kinds of write still go to a thread, where the loop keeps serving queries and
the control socket while the disk works:
- a Ready that carries a snapshot (megabytes at the end of a busy day);
- every write for a while after one ran slow on the loop (a worn SD card, a disk
  busy with something else), so a slow disk never makes the screens wait on it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class WritePlacement:
    """Decides per write; told how long each write on the loop took."""

    def __init__(
        self, *, slow_s: float, thread_for_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.slow_s = slow_s
        self.thread_for_s = thread_for_s
        self._clock = clock
        self._thread_until = float("-inf")
        self.slow_writes = 0

    def on_loop(self, *, has_snapshot: bool) -> bool:
        """True if the next write should run on the loop."""
        return not has_snapshot and self._clock() >= self._thread_until

    def ran_on_loop(self, seconds: float) -> None:
        """Note how long a write on the loop took; a slow one sends writes to a thread."""
        if seconds <= self.slow_s:
            return
        self.slow_writes += 1
        self._thread_until = self._clock() + self.thread_for_s
        log.warning(
            "a write held the loop; writes go to a worker thread for a while",
            extra={"seconds": round(seconds, 3), "thread_for_s": self.thread_for_s},
        )
