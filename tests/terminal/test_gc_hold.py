"""Garbage collection held off from a tap to its frame, and always given back."""

from __future__ import annotations

from terminal.gc_hold import GcHold


class Collector:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def isenabled(self) -> bool:
        return self.enabled

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False


def test_a_hold_turns_collection_off_until_released() -> None:
    collector = Collector()
    hold = GcHold(collector)
    assert hold.hold() and not collector.enabled
    assert not hold.hold()  # a second tap before the frame: still one hold
    hold.release()
    assert collector.enabled
    hold.release()  # released twice (the frame, then the time limit): no harm
    assert collector.enabled


def test_collection_turned_off_by_someone_else_stays_off() -> None:
    collector = Collector(enabled=False)
    hold = GcHold(collector)
    assert not hold.hold()
    hold.release()
    assert not collector.enabled
