"""Counters of what the wire did, and rate-limited log lines about what it dropped.

A flood of bad frames must cost a counter increment each, not a log line each:
``Counters.drop`` logs the first drop of a reason at once, then at most one line
per ``DROP_LOG_INTERVAL_S`` with the number suppressed since.

This module must never raise from ``inc``/``drop`` (they run in receive loops) and
never do I/O other than logging.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from mesh.net import constants


class Counters:
    """Named monotonically increasing counts, e.g. ``rx.dropped.schema.oversized``."""

    def __init__(self, logger: logging.Logger) -> None:
        self._counts: Counter[str] = Counter()
        self._logger = logger
        self._last_logged: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def inc(self, name: str, amount: int = 1) -> None:
        self._counts[name] += amount

    def drop(self, name: str, detail: str, level: int = logging.WARNING) -> None:
        """Count one dropped frame/message under ``name`` and maybe log it at ``level``."""
        self._counts[name] += 1
        now = time.monotonic()
        last = self._last_logged.get(name)
        if last is not None and now - last < constants.DROP_LOG_INTERVAL_S:
            self._suppressed[name] += 1
            return
        suppressed = self._suppressed.pop(name, 0)
        self._last_logged[name] = now
        self._logger.log(
            level,
            "dropped %s: %s (%d more since the last line, %d in total)",
            name,
            detail,
            suppressed,
            self._counts[name],
            extra={"counter": name, "suppressed": suppressed, "total": self._counts[name]},
        )

    def snapshot(self) -> dict[str, int]:
        return dict(self._counts)
