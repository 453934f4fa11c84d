"""Moves boxes the way the rail moves cards, with frames drawn in part, and reports.

``python -m tests.kitchen.move_scene OUT`` on an X display: a window with partial
frames on (kitchen/damage.py) and a few RelativeLayouts ("cards": a plain box with a
smaller one inside). Each step changes the scene, lets a frame be drawn, then reads
the picture the partial frames left, draws the window whole and reads it again. OUT
gets one JSON line per step: how many cards were copied, and how many pixels differ.

1. Card A goes, card B moves into its place; nothing else is where B was, so that
   area must be drawn again (the clear colour), or B's old picture stays.
2. A marker is put where card C will go, then C moves there: the copy would paint
   over the marker, so C must be drawn, not copied.
3. Card D moves by a whole column, nothing in the way: copied.
4. In card E, a large one, a band moves down: the rows it left must be cleared too.
5. Card E goes, nothing in its place: all it drew must be cleared.
6. The small box inside card D turns red: one pass around it, which leaves out the
   canvases of everything that draws nothing there (the other cards, the marker).
7. As in a bump: card G, which draws only a translucent strip at its top and bottom,
   moves a column right (copied) and card H, drawn the same way, comes into its place.
   The pass over that column clears only the rows G drew and H draws: its middle holds
   the clear colour already.
8. Inside a StencilView a box larger than the view, clipped by it, changes colour: a
   partial frame's clear is of the colour only, and Kivy clears the stencil itself.
After every step, every canvas has all its instructions again once the frame is
drawn, before its ``on_flip`` handlers run.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

W, H = 1000, 300


def main() -> int:
    out = Path(sys.argv[1])
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "multisamples", "0")
    Config.set("graphics", "width", str(W))
    Config.set("graphics", "height", str(H))
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.graphics import Color, Rectangle
    from kivy.graphics import opengl as gl
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.relativelayout import RelativeLayout
    from kivy.uix.stencilview import StencilView
    from kivy.uix.widget import Widget

    from kitchen.damage import PartialRedraw

    def card(x: int, rgb: tuple[float, float, float]) -> Any:
        box = RelativeLayout(size_hint=(None, None), pos=(x, 20), size=(100, 200))
        with box.canvas:
            Color(*rgb)
            Rectangle(pos=(0, 0), size=(100, 200))
        inner = Widget(size_hint=(None, None), pos=(10, 150), size=(40, 30))
        with inner.canvas:
            box.ink = Color(1, 1, 1, 1)
            Rectangle(pos=inner.pos, size=inner.size)
        box.add_widget(inner)
        return box

    def marker(x: int, y: int) -> Any:
        mark = Widget(size_hint=(None, None), pos=(x, y), size=(20, 20))
        with mark.canvas:
            Color(1, 0.5, 0, 1)
            Rectangle(pos=mark.pos, size=mark.size)
        return mark

    def big_card() -> tuple[Any, Any]:
        box = RelativeLayout(size_hint=(None, None), pos=(660, 20), size=(300, 260))
        with box.canvas:
            Color(0.7, 0.2, 0.2, 1)
            Rectangle(pos=(0, 220), size=(300, 40))
            Color(0.9, 0.9, 0.3, 1)
            band = Rectangle(pos=(0, 170), size=(300, 40))
        return box, band

    def sparse(x: int, rgba: tuple[float, float, float, float]) -> Any:
        box = RelativeLayout(size_hint=(None, None), pos=(x, 20), size=(100, 260))
        with box.canvas:
            Color(*rgba)
            Rectangle(pos=(0, 230), size=(100, 30))
            Rectangle(pos=(0, 0), size=(100, 20))
        return box

    def stenciled() -> tuple[Any, Any]:
        view = StencilView(size_hint=(None, None), pos=(400, 230), size=(150, 50))
        with view.canvas:
            ink = Color(0.2, 0.8, 0.4, 1)
            Rectangle(pos=(380, 210), size=(200, 90))  # larger than the view: clipped
        return view, ink

    lines: list[str] = []

    def count(group: Any) -> int:
        return sum(1 + count(i) if hasattr(i, "children") else 1 for i in group.children)

    class Scene(App):  # type: ignore[misc]  # Kivy ships no type hints
        def build(self) -> Any:
            Window.clearcolor = (0.1, 0.1, 0.12, 1)
            self.at_flip = 0
            Window.bind(on_flip=self.flipped)
            self.partial = PartialRedraw(Window)
            self.partial.install()
            self.root_box = root = FloatLayout()
            self.a, self.b = card(10, (0.2, 0.4, 0.8)), card(120, (0.2, 0.7, 0.3))
            self.c, self.d = card(400, (0.8, 0.6, 0.1)), card(520, (0.6, 0.2, 0.6))
            self.e, self.band = big_card()
            for box in (self.a, self.b, self.c, self.d, self.e):
                root.add_widget(box)
            self.steps = [self.step_gone_and_moved, self.step_marker, self.step_blocked,
                          self.step_free, self.step_band_moved, self.step_big_gone,
                          self.step_inner_colour, self.step_sparse_put,
                          self.step_sparse_bump, self.step_stencil_put,
                          self.step_stencil_colour]  # fmt: skip
            self.reading = False
            Clock.schedule_interval(self.tick, 0.1)
            return root

        def step_gone_and_moved(self) -> bool:
            self.root_box.remove_widget(self.a)
            self.b.x = 10
            return True

        def step_marker(self) -> bool:
            self.root_box.add_widget(marker(300, 100))
            return False  # not a step to report: the marker is simply drawn

        def step_blocked(self) -> bool:
            self.c.x = 290  # over the marker at 300..320
            return True

        def step_free(self) -> bool:
            self.d.x = 120  # where B was: nothing there now
            return True

        def step_band_moved(self) -> bool:
            self.band.pos = (0, 0)  # rows 190-230 of the window left, 20-60 drawn
            return True

        def step_big_gone(self) -> bool:
            self.root_box.remove_widget(self.e)
            return True

        def step_inner_colour(self) -> bool:
            self.d.ink.rgba = (1, 0, 0, 1)
            return True

        def step_sparse_put(self) -> bool:
            self.g = sparse(660, (0.3, 0.9, 0.9, 0.6))  # where card E was
            self.root_box.add_widget(self.g)
            return False

        def step_sparse_bump(self) -> bool:
            self.g.x = 780
            self.root_box.add_widget(sparse(660, (0.9, 0.5, 0.9, 0.6)))
            return True

        def step_stencil_put(self) -> bool:
            view, self.stencil_ink = stenciled()
            self.root_box.add_widget(view)
            return False

        def step_stencil_colour(self) -> bool:
            self.stencil_ink.rgba = (0.9, 0.3, 0.1, 1)
            return True

        def tick(self, _dt: float) -> bool:
            if not self.partial.active or Window.canvas.needs_redraw:
                return True  # the probe's frames first; then one step a drawn frame
            if self.reading:
                self.reading = False
                self.compare()
            if not self.steps:
                out.write_text("\n".join(lines) + "\n")
                self.stop()
                return False
            self.copies = self.partial.stats.copies
            self.left_out = self.partial.stats.left_out
            self.cleared = self.partial.stats.cleared
            self.reading = self.steps.pop(0)()
            self.instructions = count(Window.canvas)  # as the step left the tree
            return True

        def flipped(self, *_: Any) -> None:  # handlers run before the swap, after the draw
            self.at_flip = count(Window.canvas)

        def compare(self) -> None:
            # Every canvas left out of a pass has its instructions back by the time
            # anything else runs: the frame's on_flip handlers already see them all.
            whole = self.at_flip == count(Window.canvas) == self.instructions
            w, h = int(Window.width), int(Window.height)
            shown = bytes(gl.glReadPixels(0, 0, w, h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE))
            partial = self.partial.last is not None
            passes = sum((b[2] - b[0]) * (b[3] - b[1]) for b in self.partial.last or [])
            cleared = self.partial.stats.cleared - self.cleared
            self.partial.full_next()
            Window.dispatch("on_draw")
            full = bytes(gl.glReadPixels(0, 0, w, h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE))
            Window.dispatch("on_flip")
            differ = sum(shown[i : i + 3] != full[i : i + 3] for i in range(0, len(full), 3))
            copied = self.partial.stats.copies - self.copies
            left_out = self.partial.stats.left_out - self.left_out
            lines.append(json.dumps({"copied": copied, "differ": differ, "partial": partial,
                                     "left_out": left_out, "whole": whole, "passes": passes,
                                     "cleared": cleared}))  # fmt: skip

    Scene().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
