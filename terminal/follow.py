"""A read kept fresh for a screen: re-run off the UI thread after each change the node applies.

No Kivy here (it is handed a way to reach the UI thread), so it is tested without a
window. At most one read is in flight; changes applied meanwhile make one more
read after it, never one per change. ``on_change`` is called (on the UI thread)
only when the answer differs from the last one delivered: a change to another
table costs the screen nothing, and a server's own tap is read once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mesh.client import api

log = logging.getLogger(__name__)

Reply = dict[str, Any]
UNREACHABLE_RETRY_S = 0.5  # s before reading again after the node did not answer


def unreachable(exc: BaseException) -> Reply:
    return {
        "ok": False,
        "error": {"code": "unreachable", "message": str(exc) or type(exc).__name__},
    }


class Follow:
    def __init__(
        self,
        op: str,
        args: dict[str, Any],
        on_change: Callable[[Reply], None],
        *,
        run: Callable[[Callable[[api.Client], None]], bool],
        to_ui: Callable[[Callable[[], None]], None],
        on_stop: Callable[[Follow], None] | None = None,
    ) -> None:
        """``run(read)`` runs ``read(client)`` on a worker (False: no node to ask);
        ``to_ui(fn)`` runs ``fn`` on the UI thread; ``on_stop`` is told of ``stop()``."""
        self.op, self.args = op, args
        self._on_change = on_change
        self._run, self._to_ui, self._on_stop = run, to_ui, on_stop
        self._lock = threading.Lock()
        self._running = False
        self._dirty = False
        self._stopped = False
        self._last: Reply | None = None
        self._retry = threading.Event()  # set by stop(): no wait for a retry
        self.retry_s = UNREACHABLE_RETRY_S
        self.reads = 0  # how many times the node was asked

    @property
    def active(self) -> bool:
        return not self._stopped

    def kick(self) -> None:
        """The node applied something (any thread): read now, or once the read in flight ends."""
        with self._lock:
            if self._stopped:
                return
            if self._running:
                self._dirty = True
                return
            self._running = True
        if not self._run(self._read):
            with self._lock:
                self._running = False

    def stop(self) -> None:
        """No more reads nor calls, even of an answer already on its way to the UI thread."""
        with self._lock:
            self._stopped = True
        self._retry.set()
        if self._on_stop is not None:
            self._on_stop(self)

    def _read(self, client: api.Client) -> None:
        while True:
            with self._lock:
                self._dirty = False  # a change applied from here on is read by the next round
            unanswered = False
            try:
                reply = client.call(self.op, **self.args)
            except (api.ClientError, TimeoutError, OSError) as exc:
                reply, unanswered = unreachable(exc), True
            except Exception as exc:  # a bug must not leave the follow "running" for good
                log.exception("reading %s for the screen failed", self.op)
                reply = unreachable(exc)
            with self._lock:
                self.reads += 1
                if self._stopped:
                    self._running = False
                    return
                fresh = reply != self._last
                if fresh:
                    self._last = reply
                again = self._dirty
                # No change may come to kick it again: a screen left with an old answer
                # (or none) because the node did not answer is read again until it does.
                retry = unanswered and not again
                if not again and not retry:
                    self._running = False
            if fresh:
                self._to_ui(lambda r=reply: self._deliver(r))  # type: ignore[misc]
            if retry:
                self._retry.wait(self.retry_s)  # cut short by stop()
                with self._lock:
                    if self._stopped:
                        self._running = False
                        return
            elif not again:
                return

    def _deliver(self, reply: Reply) -> None:
        if not self._stopped:  # a screen that stopped following has moved on
            self._on_change(reply)
