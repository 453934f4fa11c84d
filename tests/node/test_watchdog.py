"""The loop watchdog: a held-up loop is reported once, with the code holding it, and timed."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from mesh.node.watchdog import LoopWatchdog

HOLD_S = 1.0  # s the test holds the loop; the watchdog warns after a tenth of it


def hold_the_loop_like_a_slow_snapshot() -> None:
    time.sleep(HOLD_S)


def test_a_held_loop_is_reported_with_its_stack_and_how_long(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dog = LoopWatchdog(warn_after_s=HOLD_S / 10)

    async def main() -> None:
        dog.start()
        try:
            await asyncio.sleep(0.2)  # a few healthy beats: nothing to report
            assert dog.stalls == 0
            hold_the_loop_like_a_slow_snapshot()
            await asyncio.sleep(0.3)  # beats again: the watchdog sees the end of it
        finally:
            dog.stop()

    with caplog.at_level(logging.WARNING, logger="mesh.node.watchdog"):
        asyncio.run(main())
    held = [r for r in caplog.records if r.getMessage() == "the node's loop is held up"]
    assert len(held) == 1, [r.getMessage() for r in caplog.records]
    assert "hold_the_loop_like_a_slow_snapshot" in held[0].stack  # type: ignore[attr-defined]
    ended = [r for r in caplog.records if r.getMessage() == "the node's loop ran again"]
    assert len(ended) == 1
    assert dog.stalls == 1
    assert HOLD_S * 0.9 <= dog.longest_s < HOLD_S + 10  # how long, not how fast
