"""The PIN pad: log in, or clock in and out. Wrong PINs shake and count toward the lockout.

The PIN is checked by this device's node (``login`` op, a slow hash off the
UI thread); the lockout is the node's too: this screen only waits as told.
"""

from __future__ import annotations

import time
from typing import Any

from kivy.animation import Animation
from kivy.clock import Clock
from kivy.metrics import dp
from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from terminal import wording
from terminal.backend import PendingCommand, Reply
from terminal.screens.base import TerminalScreen

PIN_MAX = 8
READY = "Enter your PIN"
STARTING = "Starting…"
NO_STAFF = "Waiting for the staff list from the other devices…"


class LoginScreen(TerminalScreen):
    title = "Log in"
    pin = StringProperty("")
    message = StringProperty(STARTING)
    busy = BooleanProperty(False)
    locked = BooleanProperty(False)
    shake = NumericProperty(0)

    def prepare(self, **kwargs: Any) -> None:
        self.pin = ""
        self.refresh()

    def refresh(self) -> None:
        """Say what the pad waits for; a message about the last PIN stays until the next key."""
        if self.busy or self.locked or self.pin:
            return
        waiting = {"", STARTING, NO_STAFF}
        if self.message in waiting or self.message == READY:
            self.message = self._ready_message()

    def _ready_message(self) -> str:
        if not self.app.backend.ready:
            return STARTING
        if not self.app.catalog:
            return NO_STAFF
        return READY

    def on_key(self, key: str) -> None:
        if key == "clear":
            self.pin = ""
        elif key == "enter":
            self.submit("login")
        elif len(self.pin) < PIN_MAX:
            self.pin += key
            self.message = READY

    def submit(self, intent: str) -> None:
        """``intent``: ``login``, ``clock_in`` or ``clock_out``."""
        if self.busy or self.locked or not self.pin:
            return
        if self._ready_message() != READY:
            self.message = self._ready_message()
            return
        self.busy = True
        self.message = "Checking…"
        pin, self.pin = self.pin, ""
        self.app.backend.call("login", lambda reply: self._answered(reply, intent), pin=pin)

    def _answered(self, reply: Reply, intent: str) -> None:
        self.busy = False
        if not reply.get("ok"):
            code = wording.error_code(reply)
            self.message = wording.explain(reply)
            if code in {"wrong_pin", "locked"}:
                self._shake()
            if code == "locked":
                self._lock_for(float(reply["error"].get("retry_in_s", 1)))
            return
        staff = reply["staff"]
        if intent == "login":
            self.app.staff = staff
            self.app.go("floor")
            return
        pending = PendingCommand.make(intent, staff["id"])
        self.message = "Saving…"

        def done(ok: Reply) -> None:
            what = "clocked in" if intent == "clock_in" else "clocked out"
            minutes = ok.get("outcome", {}).get("minutes")
            extra = (
                f" after {minutes // 60} h {minutes % 60:02d} min" if minutes is not None else ""
            )
            self.message = f"{staff['name']} {what}{extra}"

        def refused(bad: Reply) -> None:
            self.message = wording.explain(bad)

        self.send(
            pending,
            done,
            on_refused=lambda bad: refused(bad) if not wording.is_retryable(bad) else None,
        )

    def _shake(self) -> None:
        anim = Animation(shake=dp(24), d=0.05)
        for offset in (-dp(24), dp(16), -dp(16), dp(8), 0):
            anim += Animation(shake=offset, d=0.05)
        anim.start(self)

    def _lock_for(self, seconds: float) -> None:
        """Count down what the node said (the node, not this screen, decides the lockout)."""
        self.locked = True
        until = time.monotonic() + max(seconds, 0.5)

        def tick(_dt: float) -> bool:
            left = until - time.monotonic()
            if left <= 0:
                self.locked = False
                self.message = READY
                return False
            self.message = f"Too many wrong PINs. The pad unlocks in {int(left) + 1} s."
            return True

        Clock.schedule_interval(tick, 1.0)
