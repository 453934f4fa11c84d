"""Full garbage collections wait for a quiet screen (no window), and Python starts none."""

from __future__ import annotations

import gc

from kitchen import quiet_gc
from kitchen.quiet_gc import QuietCollector


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_full_collections_wait_for_a_quiet_screen_but_not_for_ever() -> None:
    clock = FakeClock()
    collected: list[int] = []
    started = clock.now
    collector = QuietCollector(clock=clock, collect=collected.append)
    clock.now += quiet_gc.EVERY_S - 1
    assert not collector.poll()  # quiet, but one ran (at start) less than EVERY_S ago
    while clock.now < started + quiet_gc.AT_LEAST_S - 0.5:  # a rush: a change every 0.5 s
        clock.now += 0.5
        collector.changed()
        assert not collector.poll()
    clock.now += 0.5
    collector.changed()
    assert collector.poll() and collected == [2]  # the longest it waits, busy or not
    clock.now += quiet_gc.EVERY_S
    collector.changed()
    assert not collector.poll()  # due, but the screen just changed
    clock.now += quiet_gc.QUIET_S
    assert collector.poll() and collected == [2, 2]


def test_installed_python_never_starts_a_full_collection_itself() -> None:
    before = gc.get_threshold()
    try:
        QuietCollector.install()
        young, middle, full = gc.get_threshold()
        assert (young, middle) == before[:2] and full >= quiet_gc.NEVER
    finally:
        gc.set_threshold(*before)
