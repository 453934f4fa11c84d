"""Draws the kinds of label the KDS shows, as Kivy's Label or as InkLabel, and saves the pixels.

``python -m tests.kitchen.ink_scene label|ink OUT`` on an X display: one frame of
labels like the KDS's (an item row with markup that wraps, headers aligned left,
right and centred, a shortened line, an empty label, one with no text_size), read
back from the window and written raw to OUT. The test runs it both ways and
compares the two files byte for byte. Between the first frame and the last, two timers
change text and colour (``CHANGES``) as they do on the rail, sharing their images,
two item rows take each other's markup, and a label is given another width, after which
another label shows its text at the first width.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ITEM = (
    "[b]2[/b]  Copper burger  [size=18sp][color=99aadd]S2[/color][/size]\n"
    "[color=c8c8c8]   - Medium[/color]\n"
    "[color=ffd24a][i]   >> no butter, allergy, and a note long enough to wrap[/i][/color]"
)
ROW = "[b]1[/b]  Fries\n   [size=17sp]Fry: [color=ffb84a]cooking[/color][/size]"
OTHER_ROW = "[b]2[/b]  Wings\n   [size=17sp]Fry: [color=6fdc8c]READY[/color][/size]"
WRAPS = "Gluten-free bun, no sesame"
# (widget kwargs, pos, size, text_size: "size", "width" (less 16 px) or None)
LABELS: list[tuple[dict[str, Any], tuple[int, int], tuple[int, int], str | None]] = [
    ({"text": ITEM, "markup": True, "font_size": "24sp", "halign": "left", "valign": "top"},
     (10, 250), (300, 240), "width"),
    ({"text": "Table 12", "font_size": "30sp", "bold": True, "halign": "left",
      "valign": "middle", "shorten": True}, (330, 440), (160, 48), "size"),
    ({"text": "12:34", "font_size": "30sp", "bold": True, "halign": "right",
      "valign": "middle"}, (500, 440), (96, 48), "size"),
    ({"text": "Ana   #A1-19, a name long enough to be shortened", "font_size": "20sp",
      "halign": "left", "valign": "middle", "shorten": True}, (330, 380), (300, 44), "size"),
    ({"text": "REFIRE: dropped   VOID AFTER FIRE", "markup": True, "bold": True,
      "font_size": "20sp", "halign": "left", "valign": "middle", "shorten": True},
     (330, 320), (300, 34), "size"),
    ({"text": "centred", "font_size": "26sp", "halign": "center", "valign": "middle"},
     (620, 300), (250, 100), "size"),
    ({"text": "", "font_size": "26sp"}, (620, 200), (250, 50), "size"),
    ({"text": "no text_size", "font_size": "26sp"}, (620, 100), (250, 50), None),
    # A label laid out again at another width (a card built narrow, then given its
    # column), and one that later shows the same text at the first width.
    ({"text": WRAPS, "font_size": "20sp", "halign": "left", "valign": "top"},
     (330, 10), (150, 90), "width"),
    ({"text": "x", "font_size": "20sp", "halign": "left", "valign": "top"},
     (490, 10), (150, 90), "width"),
    # Two item rows side by side, as on two cards (markup images are shared too).
    ({"text": ROW, "markup": True, "font_size": "24sp", "halign": "left", "valign": "top"},
     (10, 160), (150, 80), "width"),
    ({"text": OTHER_ROW, "markup": True, "font_size": "24sp", "halign": "left",
      "valign": "top"}, (170, 160), (150, 80), "width"),
    # Two timers side by side, as on two cards (their images are shared: widgets.py).
    ({"text": "12:34", "font_size": "30sp", "bold": True, "halign": "right",
      "valign": "middle"}, (10, 100), (96, 48), "size"),
    ({"text": "12:35", "font_size": "30sp", "bold": True, "halign": "right",
      "valign": "middle"}, (120, 100), (96, 48), "size"),
]  # fmt: skip
FIRST_ROW = len(LABELS) - 4
FIRST_TIMER = len(LABELS) - 2
RESIZED = FIRST_ROW - 2  # its image is made again at its new width, never taken for the old
# Then, a frame apart each, what the timers do: the first takes the second's text (its
# image, shared), the second moves on (a label that gave its image away must render the
# next text into an image of its own), a colour changes and comes back, a number moves.
# The item rows do the same with their markup.
CHANGES: list[list[tuple[int, str, Any]]] = [
    [(FIRST_TIMER, "text", "12:35"), (FIRST_TIMER + 1, "text", "12:36"),
     (FIRST_ROW, "text", OTHER_ROW), (FIRST_ROW + 1, "text", ROW + " ")],
    [(FIRST_ROW + 1, "text", ROW), (RESIZED, "text_size", (64, None))],
    [(RESIZED + 1, "text", WRAPS)],
    [(FIRST_TIMER + 1, "color", [0, 0, 0, 1]), (FIRST_TIMER, "text", "12:36")],
    [(FIRST_TIMER + 1, "color", [1, 1, 1, 1]), (FIRST_TIMER + 1, "text", "12:34"),
     (2, "text", "12:36")],
]  # fmt: skip


def main() -> int:
    kind, out = sys.argv[1], Path(sys.argv[2])
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    from kivy.config import Config

    Config.set("graphics", "multisamples", "0")
    Config.set("graphics", "width", "900")
    Config.set("graphics", "height", "500")
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.core.window import Window
    from kivy.graphics import opengl as gl
    from kivy.lang import Builder
    from kivy.uix.floatlayout import FloatLayout
    from kivy.uix.label import Label

    from kitchen import widgets

    Builder.load_file(str(Path(widgets.__file__).with_name("widgets.kv")))
    cls = widgets.InkLabel if kind == "ink" else Label

    class Scene(App):  # type: ignore[misc]  # Kivy ships no type hints
        def build(self) -> Any:
            Window.clearcolor = (0.11, 0.11, 0.12, 1)
            root = FloatLayout()
            labels = []
            for kw, pos, size, fit in LABELS:
                label = cls(size_hint=(None, None), pos=pos, size=size, **kw)
                if fit == "size":
                    label.text_size = size
                elif fit == "width":
                    label.text_size = (size[0] - 16, None)
                root.add_widget(label)
                labels.append(label)
            frames = [0]

            def drawn(*_: Any) -> None:  # changes from the second frame, then read the last
                frames[0] += 1
                step = frames[0] - 2
                if 0 <= step < len(CHANGES):
                    for i, name, value in CHANGES[step]:
                        setattr(labels[i], name, value)
                if frames[0] == len(CHANGES) + 3:
                    w, h = Window.size
                    out.write_bytes(bytes(gl.glReadPixels(0, 0, w, h, gl.GL_RGB,
                                                          gl.GL_UNSIGNED_BYTE)))  # fmt: skip
                    Clock.schedule_once(lambda _dt: self.stop(), 0)
                else:
                    Window.canvas.ask_update()

            Window.bind(on_flip=drawn)
            return root

    Scene().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
