"""The KDS application: wires the node's client, the feed thread and the screens.

The App owns the few things every screen shares (who is logged in, the status
dot, the cut-off banner, a message line) and turns taps and bump-bar keys into
commands. Every client call goes through ``Feed`` on another thread; results
come back here with ``Clock.schedule_once``. Nothing in this module decides a
ticket's state: it shows what the node answers.
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.properties import BooleanProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager

from kitchen import keys
from kitchen.damage import PartialRedraw
from kitchen.draw_priority import raise_draw_priority
from kitchen.feed import Feed, FeedClient, Snapshot
from kitchen.model import (
    TicketView,
    cut_off,
    format_age,
    refire_command,
    refire_refusal,
    refire_summary,
)
from kitchen.quiet_gc import QuietCollector
from kitchen.screens import load_kv
from kitchen.screens.all_day import AllDayScreen
from kitchen.screens.login import LoginScreen
from kitchen.screens.rail import RailScreen
from kitchen.screens.recall import RecallScreen
from kitchen.screens.refire import RefireScreen
from kitchen.settings import KitchenSettings

Reply = dict[str, Any]
HERE = Path(__file__).parent
# The window is cleared to the cards' grey, free of charge, so that the rail (most
# frames) paints only the thin dark gaps between its columns; every other screen and the
# frame around them paint the dark background themselves (see shell.kv).
CARD_GREY = (0.11, 0.11, 0.12, 1)
STALE_S = 3.0  # no answer from the feed for this long: say so, never show old tickets silently
MESSAGE_S = 6.0
DOT_TEXT = {
    "green": "Online",
    "amber": "Syncing",
    "red": "Offline: kitchen OK",
    "cut_off": "CUT OFF",
    "unknown": "Starting",
}
REFUSALS = {
    "no_quorum": "Not saved: this screen is cut off from the other devices",
    "timeout": "Not saved yet: no answer from the other devices, try again",
    "unreachable": "Not saved: this screen's node is not answering",
}
# Refusals that say nothing about the command itself: the same command may be sent again,
# with the same id, and the ledger applies it at most once (it may have landed already).
NOT_SAVED = frozenset(REFUSALS)


class WatchingClient(FeedClient, Protocol):
    def watch(self, callback: Callable[[int], None]) -> Callable[[], None]: ...


class KitchenShell(BoxLayout):  # type: ignore[misc]  # Kivy ships no type hints
    """The frame around every screen: top bar, banner, the screens, a message line."""


class KitchenScreens(ScreenManager):  # type: ignore[misc]  # Kivy ships no type hints
    """Kivy's ScreenManager without its stencil (shell.kv drops its rule).

    Kivy clips the screens with a stencil so that a sliding transition stays inside the
    manager: two full-size rectangles drawn into the stencil buffer every frame, and a
    stencil test on every pixel drawn in between. With no transition nothing leaves the
    manager's box, and under a software renderer those two rectangles were most of a
    rail frame's pixels.
    """


class KitchenApp(App):  # type: ignore[misc]  # Kivy ships no type hints
    station_name = StringProperty("")
    staff_name = StringProperty("")
    dot = StringProperty("unknown")
    dot_text = StringProperty(DOT_TEXT["unknown"])
    banner = StringProperty("")
    message = StringProperty("")
    clock_text = StringProperty("")
    page_text = StringProperty("")
    needs_login = BooleanProperty(True)
    current = StringProperty("rail")  # the screen on show, for the top bar's highlight

    def __init__(
        self, client: WatchingClient, settings: KitchenSettings, station: str, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.client = client
        self.settings = settings
        self.station = station
        self.station_name = station.title()
        self.title = f"tablemesh kitchen - {station}"
        self.staff_id = settings.default_staff or ""
        self.needs_login = not self.staff_id
        self.staff_name = self.staff_id or "Nobody logged in"
        self.feed = Feed(client, station, self._post, self._deliver)
        self.status: Reply | None = None
        self.offset_ms = 0
        self._cut_since: float | None = None
        self._node_error: str | None = None
        self._last_snapshot = time.monotonic()
        self._message_until = 0.0
        self._unwatch: Callable[[], None] | None = None
        self._after_login = "rail"  # where a login asked for by a command goes back to
        self._refire_from = "rail"
        # (ticket, lines, reason) -> command id of a refire that was not saved: a retry of
        # the same choice reuses it, so one that did land is not cooked twice.
        self._refire_ids: dict[tuple[str, tuple[str, ...], str], str] = {}
        self.sm: ScreenManager
        self.quiet_gc = QuietCollector()

    # -- life --------------------------------------------------------------------------
    def build(self) -> KitchenShell:
        Window.clearcolor = CARD_GREY
        if self.settings.draw_priority == "realtime":
            # Now: the window and its renderer's threads exist, the feed's does not yet.
            raise_draw_priority()
        # Each frame clears and draws only the box that changed, once the back buffer is
        # shown to keep its pixels (kitchen/damage.py); else every frame is whole.
        self.partial = PartialRedraw(Window, enabled=self.settings.partial_redraw)
        self.partial.install()
        load_kv(str(HERE / "shell.kv"))
        load_kv(str(HERE / "widgets.kv"))
        shell = KitchenShell()
        # Made here, after shell.kv, whose rule takes the stencil off (rules apply at birth).
        self.sm = KitchenScreens(transition=NoTransition())
        self.rail = RailScreen(
            card_width=self.settings.card_width,
            bump_handler=self.bump,
            refire_handler=self.start_refire,
        )
        self.all_day = AllDayScreen()
        self.recall_screen = RecallScreen(
            recall_handler=self.recall, refire_handler=self.start_refire
        )
        self.login = LoginScreen(pin_handler=self._login)
        self.refire_screen = RefireScreen(
            send_handler=self.refire, cancel_handler=lambda: self.show(self._refire_from)
        )
        screens = (self.rail, self.all_day, self.recall_screen, self.login, self.refire_screen)
        for screen in screens:
            self.sm.add_widget(screen)
        shell.ids.screens.add_widget(self.sm)
        self.rail.bind(open_count=self._page_text, page=self._page_text, pages=self._page_text)
        self.all_day.title = self._all_day_title(self.station == "expo")
        Window.bind(on_key_down=self._key)
        # The node calls this on its own thread after each applied batch. It wakes the
        # feed thread directly: setting an Event is thread-safe and coalesces a burst
        # into one fetch, like a Kivy trigger would, but without first waiting for the
        # UI thread's next frame (measured at 150-600 ms on a loaded 2-core device).
        self._unwatch = self.client.watch(self.feed.poke)  # with the applied index
        # What exists now (Kivy, the screens, the node as it started) lives as long as the
        # app: leave it out of every later garbage collection. A full collection walks
        # every object it tracks while every thread waits, the UI's too; with these
        # 200,000 in it, one stopped the screen for 130-300 ms in a rush.
        gc.collect()
        gc.freeze()
        # From now on a full collection runs only when the screen is quiet (quiet_gc.py).
        QuietCollector.install()
        self.feed.start()
        Clock.schedule_interval(self._tick, 1.0)
        self._tick(0)
        return shell

    def on_stop(self) -> None:
        if self._unwatch is not None:
            self._unwatch()
        self.feed.stop()

    # -- from the feed -----------------------------------------------------------------
    def _post(self, fn: Callable[[], None]) -> None:
        Clock.schedule_once(lambda _dt: fn(), 0)

    def _deliver(self, snap: Snapshot) -> None:
        self._post(lambda: self.apply(snap))

    def apply(self, snap: Snapshot) -> None:
        self._last_snapshot = snap.taken_at
        self.status = snap.status
        if cut_off(snap.status):
            if self._cut_since is None:
                self._cut_since = snap.taken_at
        else:
            self._cut_since = None
        self.dot = "cut_off" if snap.status is None else str(snap.status.get("dot", "unknown"))
        self.dot_text = DOT_TEXT.get(self.dot, self.dot)
        self._node_error = snap.error
        if snap.catalog is not None:
            self.station_name = snap.catalog.station_name(self.station)
            self.all_day.title = self._all_day_title(snap.catalog.is_expo(self.station))
            if self.staff_id and not self.needs_login:
                self.staff_name = snap.catalog.staff_names.get(self.staff_id, self.staff_id)
        if snap.offset_ms is not None:
            self.offset_ms = snap.offset_ms
        if snap.tickets is not None:
            self.quiet_gc.changed()
            self.rail.set_tickets(snap.tickets)
            self.rail.tick(self.node_now_ms(), *self._thresholds(), new_only=True)
        if snap.all_day is not None:
            self.all_day.set_counts(snap.all_day)
        if snap.recall is not None:
            self.recall_screen.set_tickets(snap.recall)
        self._update_banner()

    # -- the once-a-second clock ---------------------------------------------------------
    def node_now_ms(self) -> float:
        return time.time() * 1000 + self.offset_ms

    def _thresholds(self) -> tuple[float, float]:
        return float(self.settings.warn_after_s), float(self.settings.late_after_s)

    def _tick(self, _dt: float) -> None:
        self.clock_text = time.strftime("%H:%M")
        self.rail.tick(self.node_now_ms(), *self._thresholds())
        if self.message and time.monotonic() > self._message_until:
            self.message = ""
        self._update_banner()
        self.quiet_gc.poll()

    def _update_banner(self) -> None:
        now = time.monotonic()
        stale = now - self._last_snapshot
        error = self._node_error
        if stale > STALE_S:
            self.banner = (
                f"NOT UPDATING for {format_age(stale)}: this screen's node is not answering. "
                "Tickets shown may be out of date."
            )
        elif self._cut_since is not None:
            what = "NODE NOT ANSWERING" if error else "CUT OFF from the other devices"
            self.banner = (
                f"{what} for {format_age(now - self._cut_since)}.  New tickets cannot reach "
                "this screen and bumps are not saved until it reconnects."
            )
        else:
            self.banner = ""

    def _all_day_title(self, expo: bool) -> str:
        return "All day - whole kitchen" if expo else f"All day - {self.station_name}"

    def _page_text(self, *_: Any) -> None:
        rail = self.rail
        pages = f"   page {rail.page + 1}/{rail.pages}" if rail.pages > 1 else ""
        self.page_text = f"{rail.open_count} open{pages}"

    def say(self, text: str) -> None:
        self.message = text
        self._message_until = time.monotonic() + MESSAGE_S

    # -- commands ----------------------------------------------------------------------
    def bump(self, ticket_id: str, line: str | None) -> None:
        if not self.staff_id:
            self.rail.clear_pending(ticket_id)
            self.show("login", prompt="Log in with your PIN to bump tickets")
            return
        command: dict[str, Any] = {"type": "bump", "by": self.staff_id, "ticket": ticket_id}
        if line is not None:
            command["line"] = line

        def done(reply: Reply) -> None:
            self.rail.clear_pending(ticket_id)
            if not reply.get("ok"):
                self.say(self._refusal(reply))

        self.feed.submit(command, self.settings.submit_timeout_s, done)

    def recall(self, ticket_id: str) -> None:
        if not self.staff_id:
            self.show("login", prompt="Log in with your PIN to recall tickets")
            return

        def done(reply: Reply) -> None:
            if reply.get("ok"):
                self.say(f"Ticket {ticket_id} is back on the rail")
                self.show("rail")
            else:
                self.say(self._refusal(reply))

        command = {"type": "recall", "by": self.staff_id, "ticket": ticket_id}
        self.feed.submit(command, self.settings.submit_timeout_s, done)

    def start_refire(self, view: TicketView, line: str | None) -> None:
        """Open the refire screen for ``view`` (``line`` chosen if the cook held that item)."""
        self._refire_from = self.sm.current if self.sm.current in ("rail", "recall") else "rail"
        self.refire_screen.open(view, None if line is None else [line])
        if not self.staff_id:  # the choice waits on its screen while the cook logs in
            self._after_login = "refire"
            self.show("login", prompt="Log in with your PIN to refire")
            return
        self.show("refire")

    def refire(self, view: TicketView, lines: list[str], reason: str) -> None:
        if not self.staff_id:
            self.refire_screen.failed("Log in first")
            self._after_login = "refire"
            self.show("login", prompt="Log in with your PIN to refire")
            return
        key = (view.id, tuple(lines), reason)
        command_id = self._refire_ids.get(key) or f"kds-refire-{uuid.uuid4().hex}"
        command = refire_command(view, lines, reason, self.staff_id, command_id)
        what = refire_summary(view, lines)

        def done(reply: Reply) -> None:
            error = reply.get("error") or {}
            if reply.get("ok"):
                self._refire_ids.pop(key, None)
                self.say(f"Refire sent: {what} ({reason})")
                if self.sm.current == "refire":
                    self.show("rail")
                self.refire_screen.busy = False
                return
            if error.get("code") in NOT_SAVED:
                self._refire_ids[key] = command_id
                said = self._refusal(reply).removesuffix(", try again")  # said next, in full
                text = f"{said}. Your choice is kept: tap REFIRE again."
            else:  # the ledger said no: this command will never be applied, as it stands
                self._refire_ids.pop(key, None)
                text = refire_refusal(error) or self._refusal(reply)
            self.refire_screen.failed(text)
            if self.sm.current != "refire":  # the cook left the screen: the message line says it
                self.say(text)

        self.feed.submit(command, self.settings.submit_timeout_s, done)

    def _refusal(self, reply: Reply) -> str:
        error = reply.get("error") or {}
        code = str(error.get("code", ""))
        return REFUSALS.get(code, f"Not done: {error.get('message', code)}")

    def _login(self, pin: str) -> None:
        def done(reply: Reply) -> None:
            if reply.get("ok"):
                staff = reply["staff"]
                self.staff_id, self.staff_name = staff["id"], staff["name"]
                self.needs_login = False
                self.login.reset("Enter your PIN to start your shift")
                self.say(f"{staff['name']} is bumping on this screen")
                self.show(self._after_login)
            else:
                self.login.refused(str((reply.get("error") or {}).get("message", "refused")))

        self.feed.call("login", done, pin=pin)

    def end_shift(self) -> None:
        self.staff_id = self.settings.default_staff or ""
        self.needs_login = not self.staff_id
        self.staff_name = self.staff_id or "Nobody logged in"
        self.show("login")

    # -- navigation and keys -----------------------------------------------------------
    def show(self, name: str, prompt: str | None = None) -> None:
        if name == "login" and prompt is not None:
            self.login.reset(prompt)
        if name != "login":  # the cook went elsewhere: a later login starts on the rail
            self._after_login = "rail"
        self.sm.current = name
        self.current = name
        self.feed.want("all_day", name == "all_day")
        self.feed.want("recall", name == "recall")

    def toggle(self, name: str) -> None:
        self.show("rail" if self.sm.current == name else name)

    def _key(self, _win: Any, key: int, _scan: int, text: str | None, _mods: list[str]) -> bool:
        found = keys.action(self.sm.current, key, text)
        if found is None:
            return False
        name, arg = found
        if name == "show":
            self.show(str(arg))
        elif name == "toggle":
            self.toggle(str(arg))
        elif name == "pin":
            self.login.press(str(arg))
        elif name == "bump":
            self.rail.bump_position(int(arg or 0))
        elif name == "recall":
            self.recall_screen.recall_position(int(arg or 0))
        elif name == "turn":
            self.rail.turn(int(arg or 0))
        return True
