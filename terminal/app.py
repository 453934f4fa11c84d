"""The terminal's App: the top bar (who is logged in, the status dot), the screens, the refresh.

The app is thin on purpose. It starts the node through ``Backend`` (off the UI
thread), turns every change the node applies into one coalesced refresh
(``Clock.create_trigger``), polls the node's status for the dot, and shows
errors in one message bar with a Retry that re-sends the very same command.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.base import ExceptionHandler, ExceptionManager
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import DictProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.screenmanager import NoTransition, ScreenManager

from terminal import present, theme, widgets, wording
from terminal.backend import Backend, Reply
from terminal.gc_hold import HOLD_MAX_S, GcHold
from terminal.screens import SCREENS

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATUS_POLL_S = 1.0  # s between two looks at the node's status (the dot changes without a write)
__all__ = ["TerminalApp", "widgets"]  # widgets: imported so the .kv files can name its classes


class _KeepServing(ExceptionHandler):  # type: ignore[misc]
    """A bug in one screen must not close the till mid-shift: log it, say it, go on.

    Everything acknowledged is already in the replicated log, so nothing is lost
    either way; staying up keeps what the server was typing on screen.
    """

    def handle_exception(self, inst: BaseException) -> Any:
        if isinstance(inst, KeyboardInterrupt | SystemExit):
            return ExceptionManager.RAISE
        log.exception("unhandled error in the terminal", exc_info=inst)
        app = App.get_running_app()
        if app is not None:
            app.show_info("Something went wrong on this screen; it was logged. Please go on.")
        return ExceptionManager.PASS


class TerminalApp(App):  # type: ignore[misc]
    dot = StringProperty("starting")
    dot_caption = StringProperty("Starting")
    staff = DictProperty({})  # {id, name, role} of who is logged in; empty when locked
    catalog = DictProperty({})
    site = DictProperty({})
    eighty_six = ListProperty([])
    status = DictProperty({})
    notice = StringProperty("")
    notice_tone = StringProperty("error")
    retry_text = StringProperty("")
    screen_title = StringProperty("")
    clock_text = StringProperty("")
    applied_index = NumericProperty(0)

    def __init__(self, data_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_dir = data_dir
        self.backend = Backend(data_dir)
        self.title = "tablemesh terminal"
        self._retry: Callable[[], None] | None = None
        self._changed = Clock.create_trigger(self._on_change)
        self._gc_hold = GcHold()
        self._gc_give_back = Clock.create_trigger(self._release_gc, HOLD_MAX_S)

    # -- building -------------------------------------------------------------
    def build(self) -> Any:
        ExceptionManager.add_handler(_KeepServing())
        Builder.load_file(str(HERE / "widgets.kv"))
        Builder.load_file(str(HERE / "popups.kv"))
        for _name, (_cls, kv) in SCREENS.items():
            Builder.load_file(str(HERE / "screens" / kv))
        root = Builder.load_file(str(HERE / "app.kv"))
        manager: ScreenManager = root.ids.screens
        manager.transition = NoTransition()
        for name, (cls, _kv) in SCREENS.items():
            manager.add_widget(cls(name=name))
        self.manager = manager
        from kivy.core.window import Window

        Window.clearcolor = theme.BG
        return root

    def on_start(self) -> None:
        Clock.schedule_interval(self._tick_clock, 1.0)
        self._tick_clock(0)
        self.go("login")
        self.backend.start(self._node_ready, self._node_failed, self._no_identity)

    def _no_identity(self) -> None:
        self.dot_caption = "Not set up"  # grey: no node runs on this device yet
        self.go("setup")

    def _node_ready(self) -> None:
        # What exists now lives as long as the app (Kivy, the screens, the node as it
        # started): out of the way of every later collection, a full one included.
        gc.freeze()
        self.backend.watch(self._changed)
        Clock.schedule_interval(self._poll_status, STATUS_POLL_S)
        self._poll_status(0)
        self.load_catalog()
        self._changed()

    def _node_failed(self, message: str) -> None:
        self.dot, self.dot_caption = "cut_off", "Node stopped"
        self.show_error({"ok": False, "error": {"code": "unreachable", "message": message}})

    # -- navigation -----------------------------------------------------------
    def go(self, name: str, **kwargs: Any) -> None:
        screen = self.manager.get_screen(name)
        screen.prepare(**kwargs)
        self.backend.notify_changes = screen.refresh_on_change
        self.manager.current = name
        self.screen_title = screen.title
        screen.refresh()

    def lock(self) -> None:
        """Log out: back to the PIN pad (nothing typed on a screen is lost with it)."""
        self.staff = {}
        self.clear_notice()
        self.go("login")

    # -- refresh --------------------------------------------------------------
    def _on_change(self, *_args: Any) -> None:
        screen = self.manager.current_screen
        if screen is not None:
            screen.refresh()

    def changed(self) -> None:
        """Ask for one refresh of the screen (many asks in one frame make one refresh)."""
        self._changed()

    # -- garbage collection around a tap ---------------------------------------
    def hold_gc(self) -> None:
        """No automatic collection until the change a tap makes is drawn (or HOLD_MAX_S)."""
        if self._gc_hold.hold():
            self._gc_give_back()

    def release_gc_after_frame(self) -> None:
        """Collection back on once the frame being prepared is drawn."""
        if self._gc_hold.held:
            Clock.schedule_once(self._release_gc, 0)  # 0: after the next frame

    def _release_gc(self, *_args: Any) -> None:
        self._gc_give_back.cancel()
        self._gc_hold.release()

    def load_catalog(self) -> None:
        self.backend.call("catalog", self._got_catalog)

    def _got_catalog(self, reply: Reply) -> None:
        if not (reply.get("ok") and reply.get("catalog")):
            return
        eighty_six = list(reply.get("eighty_six") or [])
        if reply["catalog"] == self.catalog and eighty_six == list(self.eighty_six):
            return  # unchanged: no menu rebuild
        first = not self.catalog
        self.catalog = reply["catalog"]
        self.site = reply["catalog"].get("site") or {}
        self.eighty_six = eighty_six
        if first:
            self.changed()

    def _poll_status(self, _dt: float) -> None:
        if self.backend.ready:
            # No state hash: it costs the node a serialization of the whole ledger after
            # every change, and the dot has no use for it.
            self.backend.call("status", self._got_status, hash=False)

    def _got_status(self, reply: Reply) -> None:
        if not reply.get("ok"):
            self.dot, self.dot_caption = "cut_off", "Node not answering"
            return
        self.status = reply
        dot = str(reply.get("dot", "red"))
        self.dot, self.dot_caption = dot, present.dot_caption(dot, reply.get("cloud"))
        if int(reply.get("applied_index", 0)) != self.applied_index:
            self.applied_index = int(reply.get("applied_index", 0))
        screen = self.manager.current_screen
        if not self.catalog or (screen is not None and screen.name == "check"):
            # At most once a second: an item 86'd on another device greys out here too.
            self.load_catalog()

    def _tick_clock(self, _dt: float) -> None:
        import time

        self.clock_text = time.strftime("%H:%M")

    # -- messages -------------------------------------------------------------
    def show_error(self, reply: Reply, retry: Callable[[], None] | None = None) -> None:
        """Say what went wrong; offer Retry when the command was not acknowledged."""
        self.notice = wording.explain(reply)
        self.notice_tone = "error"
        self._retry = retry if retry is not None and wording.is_retryable(reply) else None
        self.retry_text = "Retry" if self._retry is not None else "OK"

    def show_info(self, text: str) -> None:
        self.notice, self.notice_tone, self._retry, self.retry_text = text, "info", None, "OK"

    def clear_notice(self) -> None:
        self.notice, self._retry = "", None

    def notice_action(self) -> None:
        retry, self._retry = self._retry, None
        self.notice = ""
        if retry is not None:
            retry()

    def open_status_panel(self) -> None:
        from terminal.popups import StatusPanel

        StatusPanel().open()

    def on_stop(self) -> None:
        Clock.unschedule(self._poll_status)
