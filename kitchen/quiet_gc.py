"""Full garbage collections only when the screen is quiet, never during a burst of tickets.

A full collection walks every object the collector tracks while every thread of
the process waits, the UI's and the embedded node's: with the node in the same
process, 40-270 ms measured in a dinner rush, and a fire that lands then is drawn
that much later. Python starts one by itself whenever enough objects have
survived; here it never does (``install``), and the app asks ``poll`` once a
second instead, which collects once nothing changed on screen for ``QUIET_S``,
at most every ``EVERY_S``, and at the latest after ``AT_LEAST_S`` however busy
the kitchen is, so that cyclic garbage (the node's too) never piles up for long.
The young generations are collected as before: they are small and quick.

Must never: import Kivy, or run anything but on the UI thread.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

QUIET_S = 1.0  # s without a change on screen: a collection now delays no ticket
EVERY_S = 60.0  # s: a full collection at most this often while the screen is quiet
AT_LEAST_S = 600.0  # s: and at least this often, quiet or not
NEVER = 1_000_000_000  # a threshold of full collections that is never reached


class QuietCollector:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[int], object] = gc.collect,
    ) -> None:
        self._clock = clock
        self._collect = collect
        now = clock()
        self._last_full = now
        self._last_change = now
        self.collections = 0

    @staticmethod
    def install() -> None:
        """Stop Python's own full collections (for the whole process)."""
        young, middle, _full = gc.get_threshold()
        gc.set_threshold(young, middle, NEVER)

    def changed(self) -> None:
        """Something on screen changed (or is about to): not a quiet moment."""
        self._last_change = self._clock()

    def poll(self) -> bool:
        """Collect if it is due; True if it did."""
        now = self._clock()
        since = now - self._last_full
        quiet = now - self._last_change >= QUIET_S
        if not ((quiet and since >= EVERY_S) or since >= AT_LEAST_S):
            return False
        self._collect(2)
        self._last_full = now
        self.collections += 1
        return True
