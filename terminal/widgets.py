"""Widgets every screen shares: the status dot, the PIN pad, and the message bar.

Declarations only (properties and events); how they look is in widgets.kv.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget


class StatusDot(ButtonBehavior, Widget):  # type: ignore[misc]
    """Green, amber (backlog), red (no cloud) or cut off; tap for the manager panel."""

    dot = StringProperty("starting")
    caption = StringProperty("Starting")
    backlog = NumericProperty(0)


class PinPad(GridLayout):  # type: ignore[misc]
    """Digits, Clear and Enter; fires ``on_key`` with ``'0'``-``'9'``, ``'clear'``, ``'enter'``."""

    enter_text = StringProperty("OK")
    __events__ = ("on_key",)

    def press(self, key: str) -> None:
        self.dispatch("on_key", key)

    def on_key(self, key: str, *args: Any) -> None:
        pass
