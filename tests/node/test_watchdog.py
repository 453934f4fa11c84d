"""The loop watchdog: a held-up loop is reported once, with the code holding it, and timed."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from mesh.node import constants
from mesh.node.watchdog import BEAT_S, LoopWatchdog

HOLD_S = 1.0  # s the test holds the loop; the watchdog warns after a tenth of it


def hold_the_loop_like_a_slow_snapshot() -> None:
    time.sleep(HOLD_S)


@pytest.mark.parametrize("own_beat", [True, False], ids=["own timer", "beaten by a ticker"])
def test_a_held_loop_is_reported_with_its_stack_and_how_long(
    caplog: pytest.LogCaptureFixture, own_beat: bool
) -> None:
    # The node beats the watchdog from its Raft ticker instead of a timer of the
    # watchdog's own: no beat comes while the loop is held, so the stall is seen alike.
    dog = LoopWatchdog(warn_after_s=HOLD_S / 10)

    async def ticker() -> None:
        for _ in range(1000):  # bounded: the test cancels it long before
            dog.beat()
            await asyncio.sleep(BEAT_S / 2)

    async def main() -> None:
        dog.start(own_beat=own_beat)
        task = None if own_beat else asyncio.get_running_loop().create_task(ticker())
        try:
            await asyncio.sleep(0.3)  # a few healthy beats: nothing to report
            assert dog.stalls == 0
            assert not [r for r in caplog.records if r.name == "mesh.node.watchdog"]
            hold_the_loop_like_a_slow_snapshot()
            await asyncio.sleep(0.3)  # beats again: the watchdog sees the end of it
        finally:
            if task is not None:
                task.cancel()
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


def test_the_node_ticks_at_least_as_often_as_the_watchdog_wants_a_beat() -> None:
    assert constants.TICK_MS / 1000 <= BEAT_S
