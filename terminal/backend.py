"""The app's only door to the node: every call runs on a worker thread, never the UI's.

``Backend`` owns the ``EmbeddedNode`` (the device's node on its own asyncio
thread) and two single-thread executors: one for writes, so a server's taps are
submitted in the order they were made, and one for reads, so a slow write (a
payment waiting out a leader election) never freezes the screen's refreshes.
Every answer comes back to the UI thread with ``Clock.schedule_once``.

A screen that shows one thing the node keeps changing (the open check) ``follow``s
it: the read runs on its own worker as soon as the node applies a change (no
trip through the UI loop first), and the screen is only called when the answer
differs from the one it already has. So a change to another table costs the
screen nothing, and a server's own tap is read once, not once per notification.

A write is a ``PendingCommand``: its id is made once, when the server taps, and
every retry sends the very same command, so the ledger applies it at most once.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kivy.clock import Clock

from mesh.client import api
from terminal.follow import Follow, unreachable

log = logging.getLogger(__name__)

Reply = dict[str, Any]
OnReply = Callable[[Reply], None]

IDENTITY_FILE = "node.json"  # a device's identity; without it there is no node to start
SUBMIT_TIMEOUT_S = 5.0  # s: a write answers (ok, refused, or "not confirmed") within this


@dataclass
class PendingCommand:
    """A command as the server asked for it, with its id fixed for every retry."""

    command: dict[str, Any]
    attempts: int = 0
    last_reply: Reply | None = field(default=None)

    @classmethod
    def make(cls, type_: str, by: str, **fields: Any) -> PendingCommand:
        body = {k: v for k, v in fields.items() if v is not None}
        return cls({"type": type_, "id": uuid.uuid4().hex, "by": by, **body})

    @property
    def id(self) -> str:
        return str(self.command["id"])


_unreachable = unreachable


def _to_ui(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the UI thread (the clock is interrupted: at once, not at the next frame)."""
    Clock.schedule_once(lambda _dt: fn())


class Backend:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._node: api.EmbeddedNode | None = None
        self._client: api.LocalClient | None = None
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="terminal-write")
        self._reads = ThreadPoolExecutor(1, thread_name_prefix="terminal-read")
        # Its own worker: the open check is read again right after each change even
        # while a slow read (the floor's list, a day summary) holds the reads worker.
        self._follows_pool = ThreadPoolExecutor(1, thread_name_prefix="terminal-follow")
        self._follows: list[Follow] = []
        self._stop_watch: Callable[[], None] | None = None
        self._on_change: Callable[[], None] | None = None
        # Whether the screen shown wants a refresh call per change (a screen that
        # follows its data does not: waking the UI thread for nothing costs a tick).
        self.notify_changes = True

    @property
    def ready(self) -> bool:
        return self._client is not None

    # -- lifecycle --------------------------------------------------------------
    def start(
        self,
        on_ready: Callable[[], None],
        on_error: Callable[[str], None],
        on_no_identity: Callable[[], None],
    ) -> None:
        """Start the node off the UI thread (it opens its store and sockets).

        A data directory without an identity (``node.json``) starts nothing:
        ``on_no_identity`` is called instead.
        """

        def work() -> bool:
            if not (self.data_dir / IDENTITY_FILE).exists():
                return False
            node = api.EmbeddedNode(self.data_dir)
            self._node = node
            self._client = node.start()
            return True

        def done(fut: Future[bool]) -> None:
            exc = fut.exception()
            if exc is None:
                ready = on_ready if fut.result() else on_no_identity
                Clock.schedule_once(lambda _dt: ready())
            else:
                log.error("the node did not start: %s", exc)
                Clock.schedule_once(lambda _dt: on_error(str(exc)))

        self._reads.submit(work).add_done_callback(done)

    def watch(self, callback: Callable[[], None]) -> None:
        """``callback`` runs on the node's thread after each change: pass a Clock trigger.

        It is skipped while ``notify_changes`` is off; follows are kicked either way.
        """
        assert self._client is not None
        self._on_change = callback
        self._stop_watch = self._client.watch(self._applied)

    def _applied(self, _index: int) -> None:
        # On the node's thread, after each change: quick, and never blocking.
        for follow in list(self._follows):
            follow.kick()
        if self.notify_changes and self._on_change is not None:
            self._on_change()

    def follow(self, op: str, on_change: OnReply, **args: Any) -> Follow:
        """Read (op, args) now and again after every change; ``on_change`` gets new answers.

        Call ``stop()`` on the result when the screen no longer shows it.
        """
        follow = Follow(
            op, args, on_change, run=self._run_follow, to_ui=_to_ui, on_stop=self._unfollow
        )
        self._follows.append(follow)
        follow.kick()
        return follow

    def _unfollow(self, follow: Follow) -> None:
        with contextlib.suppress(ValueError):
            self._follows.remove(follow)

    def _run_follow(self, read: Callable[[api.Client], None]) -> bool:
        """Run a follow's read on its worker; False when there is no node (or it is closing)."""
        client = self._client
        if client is None:
            return False
        try:
            self._follows_pool.submit(read, client)
        except RuntimeError:  # shut down: the app is closing
            return False
        return True

    def stop(self) -> None:
        """Stop the node (a leader hands over first). Called once the window has closed."""
        if self._stop_watch is not None:
            self._stop_watch()
        for follow in list(self._follows):
            follow.stop()
        self._writes.shutdown(wait=True, cancel_futures=True)
        self._reads.shutdown(wait=True, cancel_futures=True)
        self._follows_pool.shutdown(wait=True, cancel_futures=True)
        if self._node is not None:
            try:
                self._node.stop()
            except Exception:  # the app is exiting: say it, never hang on it
                log.exception("the node did not stop cleanly")

    # -- calls ------------------------------------------------------------------
    def call(self, op: str, on_reply: OnReply, **args: Any) -> None:
        """A read (or a PIN check): ``on_reply`` gets the node's reply on the UI thread."""
        self._run(self._reads, lambda client: client.call(op, **args), on_reply)

    def operate(self, op: str, on_reply: OnReply, **args: Any) -> None:
        """An op that commits something (an enrolment code): on the writes worker.

        It may wait for a commit like a command does, so it must not hold up the
        screen's reads, and it keeps its place among the server's taps.
        """
        self._run(self._writes, lambda client: client.call(op, **args), on_reply)

    def call_many(
        self, calls: list[tuple[str, dict[str, Any]]], on_replies: Callable[[list[Reply]], None]
    ) -> None:
        """Several reads in one worker job: one hop back to the UI for all of them."""

        def work(client: api.LocalClient) -> Reply:
            return {"ok": True, "replies": [client.call(op, **args) for op, args in calls]}

        def deliver(reply: Reply) -> None:
            on_replies(reply.get("replies") or [reply] * len(calls))

        self._run(self._reads, work, deliver)

    def submit(self, pending: PendingCommand, on_reply: OnReply) -> None:
        """Send ``pending`` (on the writes worker, in tap order); the reply on the UI thread."""
        pending.attempts += 1

        def work(client: api.LocalClient) -> Reply:
            return client.submit(pending.command, timeout=SUBMIT_TIMEOUT_S)

        def deliver(reply: Reply) -> None:
            pending.last_reply = reply
            on_reply(reply)

        self._run(self._writes, work, deliver)

    def _run(
        self,
        pool: ThreadPoolExecutor,
        work: Callable[[api.LocalClient], Reply],
        on_reply: OnReply,
    ) -> None:
        client = self._client
        if client is None:
            Clock.schedule_once(lambda _dt: on_reply(_unreachable(RuntimeError("not started"))))
            return

        def job() -> Reply:
            try:
                return work(client)
            except (api.ClientError, TimeoutError, OSError) as exc:
                return _unreachable(exc)

        def done(fut: Future[Reply]) -> None:
            if fut.cancelled():
                return
            exc = fut.exception()
            reply = _unreachable(exc) if exc is not None else fut.result()
            Clock.schedule_once(lambda _dt: on_reply(reply))

        with contextlib.suppress(RuntimeError):  # shut down: the app is closing
            pool.submit(job).add_done_callback(done)
