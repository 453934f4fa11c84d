"""The KDS's only way to the node: every client call runs here, off the UI thread.

One reader thread keeps the screen current. It wakes when the node says the
ledger changed (``poke``, from the node's watch callback) or every
``POLL_S`` to ask for the status, because a device cut off from the quorum
applies nothing and so never reports a change: the poll is what lets the screen
say "cut off" at once. Results go back to the UI through ``post`` (the app
passes a Kivy ``Clock.schedule_once`` wrapper), never by touching widgets here.

Commands (bump, recall) and PIN logins run on a small pool of their own, so a
write waiting for a quorum never holds back the picture of the rail.

Must never: import Kivy, or anything of ``mesh`` but ``mesh.client``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from kitchen.model import Catalog, TicketView, clock_offset_ms, recallable, ticket_views

Reply = dict[str, Any]
POLL_S = 0.5  # how stale "cut off" may be on screen, at most
# While changes keep arriving the node is plainly applying the site's log, so its status
# (the dot) is refreshed this seldom: each status call is work on the node's thread,
# which the UI shares the interpreter with. When changes stop, the timed passes ask
# every POLL_S again.
STATUS_WHILE_APPLYING_S = 2.0
STOP_JOIN_S = 5.0


class FeedClient(Protocol):
    def call(self, op: str, **args: Any) -> Reply: ...

    def submit(self, command: dict[str, Any], *, timeout: float | None = None) -> Reply: ...


@dataclass(slots=True)
class Snapshot:
    """What the reader saw in one pass; ``None`` fields did not need fetching."""

    status: Reply | None
    error: str | None = None
    tickets: list[TicketView] | None = None
    offset_ms: int | None = None
    all_day: dict[str, int] | None = None
    recall: list[TicketView] | None = None
    catalog: Catalog | None = None
    taken_at: float = field(default_factory=time.monotonic)
    fetched: bool = False  # the tickets were fetched (``tickets`` is None if none changed)


def _unreachable(exc: BaseException) -> Reply:
    return {"ok": False, "error": {"code": "unreachable", "message": f"node not answering: {exc}"}}


class Feed:
    def __init__(
        self,
        client: FeedClient,
        station: str,
        post: Callable[[Callable[[], None]], None],
        deliver: Callable[[Snapshot], None],
        *,
        poll_s: float = POLL_S,
    ) -> None:
        self.client = client
        self.station = station
        self._post = post
        self._deliver = deliver
        self._poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._extras: set[str] = set()
        self._extras_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="kitchen-feed", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kitchen-cmd")
        self.catalog = Catalog()
        self._offset_ms = 0  # the node's clock minus ours, from the last tickets seen
        self._status: Reply | None = None
        self._status_at = 0.0
        self._poked: int | None = None  # the highest applied index a poke reported
        # The ticket views last handed to the UI: a fetch that finds the same ones (a
        # check opened, items added, nothing fired for this screen) hands over none, so
        # the UI thread does no work for it.
        self._delivered: list[TicketView] | None = None

    # -- called from the UI thread -------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(STOP_JOIN_S)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def poke(self, index: int | None = None) -> None:
        """The ledger changed (or the user wants fresh data): fetch on the next pass.

        ``index``: the applied index the node reported with the change (its watch
        callback's argument), so that the next timed pass knows these tickets are current.
        """
        if index is not None and (self._poked is None or index > self._poked):
            self._poked = index  # one int: atomic; only the node's thread passes an index
        self._wake.set()

    def want(self, extra: str, on: bool) -> None:
        """Also fetch ``all_day`` or ``recall`` while that view is on screen."""
        with self._extras_lock:
            if on:
                self._extras.add(extra)
            else:
                self._extras.discard(extra)
        if on:
            self.poke()

    def submit(
        self, command: dict[str, Any], timeout: float, done: Callable[[Reply], None]
    ) -> None:
        def work() -> None:
            try:
                reply = self.client.submit(command, timeout=timeout)
            except Exception as exc:  # the screen must say why, whatever broke
                reply = _unreachable(exc)
            self._post(lambda: done(reply))
            self.poke()

        self._pool.submit(work)

    def call(self, op: str, done: Callable[[Reply], None], **args: Any) -> None:
        def work() -> None:
            try:
                reply = self.client.call(op, **args)
            except Exception as exc:
                reply = _unreachable(exc)
            self._post(lambda: done(reply))

        self._pool.submit(work)

    # -- the reader thread ------------------------------------------------------------
    def _run(self) -> None:
        last_applied: int | None = None
        while not self._stop.is_set():
            woke = self._wake.wait(self._poll_s)
            self._wake.clear()
            # Read after the clear: a change applied from here on sets the event again.
            poked = self._poked
            if self._stop.is_set():
                return
            try:
                snap = self._pass(woke, last_applied)
            except Exception as exc:  # a node that fails must show, not freeze the screen
                snap = Snapshot(status=None, error=str(exc) or type(exc).__name__)
                self._status = None
                last_applied = None
            else:
                if snap.fetched and snap.status is not None:
                    last_applied = snap.status.get("applied_index")
                    if woke:
                        # The status may be a cached one that predates the change. The
                        # tickets were fetched after the node said it had applied
                        # ``poked``, so they show at least that: the next timed pass
                        # fetches them again only if the status has moved past it (before,
                        # it always did, so every change cost two fetches and two updates).
                        last_applied = self._newest(last_applied, poked)
            self._deliver(snap)

    @staticmethod
    def _newest(status_index: Any, poked: int | None) -> int | None:
        if poked is None:
            return None  # no index known for the change: the timed pass fetches again
        return max(poked, status_index) if isinstance(status_index, int) else poked

    def _pass(self, woke: bool, last_applied: int | None) -> Snapshot:
        now = time.monotonic()
        status = self._status
        # A change just applied means the node is alive and in touch with the site: draw
        # it first, and leave the status to the timed passes (or a rare refresh).
        if status is None or not woke or now - self._status_at >= STATUS_WHILE_APPLYING_S:
            # Without the state hash (the node would serialize its whole ledger for it).
            status = self.client.call("status", hash=False)
            if not status.get("ok"):
                self._status = None
                return Snapshot(status=None, error=str(status.get("error")))
            self._status, self._status_at = status, now
        snap = Snapshot(status=status)
        if not self.catalog.loaded:
            self.catalog = Catalog.from_reply(self.client.call("catalog"))
            snap.catalog = self.catalog
            woke = True
        with self._extras_lock:
            extras = set(self._extras)
        if not (woke or status.get("applied_index") != last_applied):
            return snap
        expo = self.catalog.is_expo(self.station)
        # Expo needs every station's open tickets to tell which lines are done.
        reply = self.client.call("tickets", **({} if expo else {"station": self.station}))
        raw = reply.get("tickets", [])
        if any(t["items"] and t["station"] not in self.catalog.station_names for t in raw):
            self.catalog = Catalog.from_reply(self.client.call("catalog"))
            snap.catalog = self.catalog
        # Each ticket carries its check's number, so no list of checks is fetched here.
        views = ticket_views(self.station, raw, self.catalog)
        snap.fetched = True
        if views != self._delivered:
            snap.tickets = self._delivered = views
        snap.offset_ms = clock_offset_ms(raw, int(time.time() * 1000))
        if snap.offset_ms is not None:
            self._offset_ms = snap.offset_ms
        if "all_day" in extras:
            # Expo counts the whole kitchen (the ledger skips expo's copies, so once each).
            scope = {} if expo else {"station": self.station}
            query = self.client.call("query", name="all_day", **scope)
            snap.all_day = dict(query.get("counts", {}))
        if "recall" in extras:
            query = self.client.call("query", name="recently_bumped", station=self.station)
            views = ticket_views(self.station, query.get("tickets", []), self.catalog)
            # Older bumps the ledger would refuse; the node's query may not know its clock.
            snap.recall = recallable(views, int(time.time() * 1000) + self._offset_ms)
        return snap
