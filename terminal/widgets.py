"""Widgets every screen shares: the status dot, the PIN pad, scroll views, the message bar.

Declarations only (properties and events); how they look is in widgets.kv.
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.effects.scroll import ScrollEffect
from kivy.graphics import ScissorPop, ScissorPush
from kivy.properties import NumericProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.gridlayout import GridLayout
from kivy.uix.recycleview import RecycleView
from kivy.uix.recycleview import views as recycle_views
from kivy.uix.screenmanager import ScreenManager
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
    """A scroll bar that keeps one colour (no fade when scrolling stops) and a
    scroll that does not spring back at the ends.

    Kivy's ScrollView shows its bar on every scroll *or content change* and, half
    a second later, fades it with an Animation that redraws the whole window every
    frame for another half second. On a terminal without a GPU that is a dozen
    full frames after each line added to a check (each costing what the tap's own
    frame costs), competing with the node for the CPU and delaying the next tap.
    """

    def __init__(self, **kwargs: Any) -> None:
        # Kivy's default (DampedScrollEffect) animates back from past an end, and
        # when the list grows it recomputes its bounds through such a state: one
        # more frame after each line added, the same picture drawn again.
        kwargs.setdefault("effect_cls", ScrollEffect)
        super().__init__(**kwargs)

    def _bind_inactive_bar_color(self, *_args: Any) -> None:
        # Kivy schedules this (0.5 s after a change) to start the fade: nothing to do.
        return


class _ScissorClip(Widget):  # type: ignore[misc]
    """Clips what it draws to its own box with the GL scissor test, not a stencil.

    Kivy's ScrollView is a StencilView: every frame it draws its box into the
    stencil buffer twice and tests every pixel drawn in between. Without a GPU
    that is two more layers of the scroll view's area per frame, on every frame
    of the screen. A scissor rectangle costs no pixels. It is in window
    coordinates, so it is set again (before the next frame) when this box or any
    box holding it moves or changes size. widgets.kv drops Kivy's stencil rule.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._scissor = ScissorPush(x=0, y=0, width=0, height=0)
        self._reclip = Clock.create_trigger(self._clip, -1)
        self._watched: list[Any] = []
        super().__init__(**kwargs)
        self.canvas.before.insert(0, self._scissor)  # around everything it draws
        self.canvas.after.add(ScissorPop())
        self.fbind("pos", self._reclip)
        self.fbind("size", self._reclip)
        self.fbind("parent", self._watch_ancestors)
        self._watch_ancestors()

    def _watch_ancestors(self, *_args: Any) -> None:
        # A box above this one moving (a screen under a message bar that appears)
        # moves this one in window coordinates without changing its own ``pos``.
        for widget in self._watched:
            widget.funbind("pos", self._reclip)
        self._watched = []
        parent = self.parent
        while isinstance(parent, Widget):  # up to the window, which does not move
            parent.fbind("pos", self._reclip)
            self._watched.append(parent)
            parent = parent.parent
        self._reclip()

    def _clip(self, *_args: Any) -> None:
        x, y = self.to_window(self.x, self.y)
        box = (int(x), int(y), max(0, int(self.width)), max(0, int(self.height)))
        s = self._scissor
        if (s.x, s.y, s.width, s.height) != box:  # an unchanged box must not cost a frame
            s.x, s.y, s.width, s.height = box


class TScrollView(_ScissorClip, _SteadyBar, ScrollView):  # type: ignore[misc]
    pass


class _KeepingAdapter(recycle_views.RecycleDataAdapter):  # type: ignore[misc]
    """Gives each row back the view that already shows it.

    On any change to its data (a line appended) Kivy's RecycleView puts every
    view in a spare pool and takes them out again for the rows on show, last in
    first out: each view then gets another row, and every label whose text
    differs draws its texture again, some ten rows for one line added. Taking
    from the pool a view whose properties already equal the row's costs a short
    look through the pool (a screenful of views) and draws nothing again.
    """

    def get_view(self, index: int, data_item: dict[str, Any], viewclass: Any) -> Any:
        pool = recycle_views._cached_views.get(viewclass)
        if pool and (self.dirty_views.get(viewclass) or {}).get(index) is None:
            sizing = self._sizing_attrs
            shown = {k: v for k, v in data_item.items() if k not in sizing}
            for i in range(len(pool) - 1, -1, -1):
                view = pool[i]
                if all(getattr(view, k, None) == v for k, v in shown.items()):
                    # Last in the pool, where Kivy's own lookup takes from.
                    pool[i], pool[-1] = pool[-1], view
                    break
        return super().get_view(index, data_item, viewclass)


class TRecycleView(_ScissorClip, _SteadyBar, RecycleView):  # type: ignore[misc]
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("view_adapter", _KeepingAdapter())
        super().__init__(**kwargs)


class TScreens(ScreenManager):  # type: ignore[misc]
    """Kivy's ScreenManager without its stencil (widgets.kv drops its rule).

    Kivy clips the screens with a stencil so that a sliding transition stays
    inside the manager: two rectangles the size of the manager drawn into the
    stencil buffer every frame, and a stencil test on every pixel drawn in
    between. The terminal switches screens with no transition, so nothing ever
    leaves the manager's box.
    """
