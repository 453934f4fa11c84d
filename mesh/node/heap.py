"""The node process's garbage collector: full collections kept short, and counted.

A busy day's ledger is hundreds of thousands of small dicts and lists, and
CPython's full (generation 2) collection walks every one of them with the GIL
held. Applying a day of 2,000 checks, the last full collections took 0.3-0.6 s on
the 2-core test machine (``python bench/ledger.py`` prints them), past the 0.4 s
election timeout: a leader paused by one is deposed, and every client waits.

The ledger's records never form reference cycles, so the collector has nothing
to find in them. A standalone node therefore collects and then freezes its heap
(``gc.freeze``) once at start and every ``GC_FREEZE_EVERY`` applied entries:
frozen objects are still freed by reference counting when the ledger drops them,
but no collection walks them again, so each full collection only walks what is
newer than the last freeze. Collecting first means no garbage is frozen; what can
escape the collector for good is a cycle that was alive at a freeze and dies
later, which the node's own objects do not make (measured: nothing to find after
an unfreeze at the end of a 5,600-command run).

Only ``tablemesh node`` freezes. An app's process builds and drops Kivy widgets,
whose parent and child links are cycles a freeze would keep forever; the apps
manage their own heap, and the node there only counts.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

log = logging.getLogger(__name__)


class FullCollections:
    """Counts the process's full collections and how long they held it up."""

    def __init__(self) -> None:
        self.count = 0
        self.longest_s = 0.0
        self.total_s = 0.0
        self.ignoring = False  # set around a collection made before the node serves
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if info.get("generation") != 2 or self.ignoring:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            seconds = time.perf_counter() - self._started
            self._started = None
            self.count += 1
            self.total_s += seconds
            self.longest_s = max(self.longest_s, seconds)


_watch: FullCollections | None = None


def full_collections() -> FullCollections:
    """The process's one counter, hooked into the collector on first use."""
    global _watch
    if _watch is None:
        _watch = FullCollections()
        gc.callbacks.append(_watch)
    return _watch


class HeapKeeper:
    """Collects and freezes the heap at start and every ``every`` applied entries."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.freezes = 0
        self.at_start_s: float | None = None
        # What each freeze froze, added up as it freezes them: never gc.get_freeze_count(),
        # which walks every frozen object with the GIL held (14 ms per 650,000 here).
        # Frozen objects freed since by reference counting are not taken off.
        self.frozen_objects = 0
        self._since = 0

    def freeze_at_start(self) -> None:
        """The first freeze, before the node serves: timed apart, not counted as a pause."""
        watch = full_collections()
        watch.ignoring = True
        try:
            self.at_start_s = self.freeze_now()
        finally:
            watch.ignoring = False

    def freeze_now(self) -> float:
        """Collect everything not frozen, then freeze what is left; the seconds it took."""
        started = time.perf_counter()
        gc.collect()
        # After a full collection every tracked object not yet frozen is in one of the
        # collector's three generations: counting them walks only what is new since
        # the last freeze. (Written out: a generator here would be counted, then freed.)
        self.frozen_objects += (
            len(gc.get_objects(0)) + len(gc.get_objects(1)) + len(gc.get_objects(2))
        )
        gc.freeze()
        self.freezes += 1
        self._since = 0
        return time.perf_counter() - started

    def applied(self, entries: int) -> None:
        self._since += entries
        if self._since >= self.every:
            seconds = self.freeze_now()
            log.debug(
                "heap collected and frozen",
                extra={"seconds": round(seconds, 4), "frozen": self.frozen_objects},
            )


def status(keeper: HeapKeeper | None) -> dict[str, Any]:
    """The ``gc`` part of ``ctl status``."""
    watch = full_collections()
    return {
        "full_collections": watch.count,
        "longest_s": round(watch.longest_s, 4),
        "total_s": round(watch.total_s, 3),
        "freezes": keeper.freezes if keeper is not None else 0,
        "at_start_s": None
        if keeper is None or keeper.at_start_s is None
        else round(keeper.at_start_s, 4),
        "frozen_objects": keeper.frozen_objects if keeper is not None else 0,
    }
