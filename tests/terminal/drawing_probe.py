"""Run as a program (under Xvfb): build the terminal's windows with no node, report on drawing.

``python -m tests.terminal.drawing_probe DATA_DIR`` prints one JSON object: how
many stencil instructions the window draws on the check screen, whether each
scroll view's scissor box is its own box on screen, how far below the top of
its list a short check starts, and which label textures are drawn again when
one line is added to a check of twelve. The test process
itself never imports Kivy (``test_drawing.py`` runs this in a subprocess).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

LINES = 12


def _check(lines: int) -> dict[str, Any]:
    return {
        "id": "A1-1",
        "table": "4",
        "guests": 2,
        "status": "open",
        "server": "s-ana",
        "lines": [
            {
                "id": f"L{i}",
                "name": f"Dish number {i}",
                "qty": 1,
                "seat": 1,
                "course": 1,
                "status": "new",
                "amount": 100 * (i + 1),
            }
            for i in range(lines)
        ],
        "totals": {"subtotal": 100 * lines, "tax_added": 0, "total": 100 * lines, "paid": 0},
    }


def main(data_dir: str) -> None:
    from terminal.main import _configure_kivy

    _configure_kivy()
    from kivy.base import EventLoop
    from kivy.core.window import Window
    from kivy.graphics import StencilPush
    from kivy.uix.label import Label

    rendered: list[str] = []
    texture_update = Label.texture_update

    @functools.wraps(texture_update)  # Kivy's triggers find the method again by its name
    def counting(self: Any, *args: Any) -> None:
        rendered.append(self.text)
        texture_update(self, *args)

    Label.texture_update = counting  # before any label exists: their triggers bind to it

    from terminal.app import TerminalApp
    from terminal.widgets import TRecycleView, TScrollView

    app = TerminalApp(Path(data_dir))  # no node.json: no node starts
    app._run_prepare()

    def frames(n: int = 6) -> None:
        for _ in range(n):
            EventLoop.idle()

    frames()
    app.go("check", check="A1-1")
    screen = app.manager.get_screen("check")
    view = screen.ids.lines
    for lines in (1, 2):  # two lines added one after the other on this terminal
        screen._scroll_to_end = True
        screen.show({"ok": True, "check": _check(lines)})
        frames()
    # A short check starts at the top of its list, even after a line added here.
    short_gap = view.top - (view.g_translate.xy[1] + view.children[0].height)
    screen._scroll_to_end = True  # a long one ends at its newest line
    screen.show({"ok": True, "check": _check(LINES)})
    frames()

    def instructions(group: Any) -> Any:
        for child in getattr(group, "children", None) or []:
            yield child
            yield from instructions(child)

    stencils = sum(isinstance(i, StencilPush) for i in instructions(Window.canvas))

    def walk(widget: Any) -> Any:
        yield widget
        for child in widget.children:
            yield from walk(child)

    clips = []
    for widget in walk(app.root):
        if isinstance(widget, TRecycleView | TScrollView):
            x, y = widget.to_window(widget.x, widget.y)
            s = widget._scissor
            box = [int(x), int(y), int(widget.width), int(widget.height)]
            clips.append({"box": box, "scissor": [s.x, s.y, s.width, s.height]})

    rendered.clear()
    screen._scroll_to_end = True  # as after a tap on this terminal
    screen.show({"ok": True, "check": _check(LINES + 1)})
    frames()
    print(
        json.dumps(
            {
                "stencils": stencils,
                "short_check_gap_at_top": short_gap,
                "clips": clips,
                "rendered_after_one_line": rendered,
                "rows": len(screen.rows),
            }
        ),
        flush=True,
    )
    app.stop()


if __name__ == "__main__":
    main(sys.argv[1])
