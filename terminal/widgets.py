"""Widgets every screen shares: the status dot, the PIN pad, scroll views, the message bar.

Declarations only (properties and events); how they look is in widgets.kv.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.gridlayout import GridLayout
from kivy.uix.recycleview import RecycleView
from kivy.uix.scrollview import ScrollView
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


class _SteadyBar:
    """A scroll bar that keeps one colour: no fade when scrolling stops.

    Kivy's ScrollView shows its bar on every scroll *or content change* and, half
    a second later, fades it with an Animation that redraws the whole window every
    frame for another half second. On a terminal without a GPU that is a dozen
    full frames after each line added to a check (each costing what the tap's own
    frame costs), competing with the node for the CPU and delaying the next tap.
    """

    def _bind_inactive_bar_color(self, *_args: Any) -> None:
        # Kivy schedules this (0.5 s after a change) to start the fade: nothing to do.
        return


class TScrollView(_SteadyBar, ScrollView):  # type: ignore[misc]
    pass


class TRecycleView(_SteadyBar, RecycleView):  # type: ignore[misc]
    pass
