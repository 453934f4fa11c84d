"""A watchdog that says when the node's event loop was held up, and by what.

Everything a node does runs on one asyncio loop; if one step holds it longer than
the election timeout, heartbeats stop and the cluster elects someone else. Such a
stall leaves no trace in the Raft state, so a thread outside the loop watches a
timestamp the loop refreshes every ``BEAT_S``; when it grows older than
``warn_after_s`` it logs one warning per stall with the loop thread's stack (the
code holding it up) and, when the loop runs again, how long the stall lasted.

Watching costs wake-ups, and on a small shared CPU every wake-up of a process delays
the others' (docs/benchmarks.md). So a loop that already runs a periodic task (the
node's Raft ticker) beats the watchdog from it (``start(own_beat=False)`` and
``beat()``) instead of a timer of its own, and the thread looks a third as often as
the warning's threshold, not at every beat.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)

BEAT_S = 0.05  # s between two beats of the loop (and two looks of the watchdog)
STACK_FRAMES = 8  # innermost frames of the loop thread's stack put in the warning


class LoopWatchdog:
    def __init__(self, warn_after_s: float) -> None:
        self.warn_after_s = warn_after_s
        self.stalls = 0  # stalls seen since start (for `ctl status`)
        self.longest_s = 0.0  # the longest of them
        self._beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def look_s(self) -> float:
        """s between two looks of the thread: a stall is seen within a third of the threshold."""
        return max(BEAT_S, self.warn_after_s / 3)

    def start(self, *, own_beat: bool = True) -> None:
        """Start watching the running loop (call from inside it).

        ``own_beat=False``: the caller's periodic task calls ``beat()`` at least every
        ``BEAT_S``, and the watchdog sets no timer on the loop.
        """
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.beat()
        if own_beat:
            self._tick()
        self._thread = threading.Thread(target=self._watch, name="mesh.loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
        if self._thread is not None:
            self._thread.join(2 * self.look_s + 1)

    def beat(self) -> None:
        """The loop is running (call from the loop)."""
        self._beat = time.monotonic()

    def _tick(self) -> None:
        self.beat()
        assert self._loop is not None
        self._handle = self._loop.call_later(BEAT_S, self._tick)

    def _watch(self) -> None:
        reported_beat = None  # the beat a warning was logged for (one per stall)
        while not self._stop.wait(self.look_s):
            beat = self._beat
            held = time.monotonic() - beat
            if held > self.warn_after_s and beat != reported_beat:
                reported_beat = beat
                frame = sys._current_frames().get(self._loop_thread)
                stack = traceback.format_stack(frame)[-STACK_FRAMES:] if frame else []
                log.warning(
                    "the node's loop is held up",
                    extra={"held_s": round(held, 3), "stack": "".join(stack)},
                )
            elif reported_beat is not None and beat != reported_beat:
                # The loop ran again: say how long it was held up in all.
                lasted = beat - reported_beat
                self.stalls += 1
                self.longest_s = max(self.longest_s, lasted)
                log.warning("the node's loop ran again", extra={"held_s": round(lasted, 3)})
                reported_beat = None
