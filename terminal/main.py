"""``tablemesh terminal --data DIR``: configure Kivy, run the app, stop the node after.

Kivy reads its settings when first imported, so they are set here before any
Kivy import: no command-line parsing by Kivy (the CLI owns argv), the
interruptible clock (an answer from the node's thread wakes the UI at once
instead of at the next frame), and a window that fits a 1024x768 or 1280x800 screen.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SIZE = (1280, 800)


def _configure_kivy() -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_CLOCK", "interrupt")
    os.environ.setdefault("KIVY_CLIPBOARD", "sdl2")  # not xsel: a terminal has no X clipboard tool
    from kivy.config import Config

    size = os.environ.get("TABLEMESH_TERMINAL_SIZE", "")
    width, _, height = size.partition("x")
    Config.set("graphics", "width", width or str(DEFAULT_SIZE[0]))
    Config.set("graphics", "height", height or str(DEFAULT_SIZE[1]))
    Config.set("graphics", "minimum_width", "1024")
    Config.set("graphics", "minimum_height", "700")
    # A touchscreen: no red multitouch circles on right-click, no exit on Escape.
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("kivy", "exit_on_escape", "0")
    # Square flat tiles need no antialiasing, and multisampling makes every frame
    # far slower on software GL (a terminal without a GPU).
    Config.set("graphics", "multisamples", "0")
    Config.set("graphics", "vsync", "0")


def run(data_dir: Path) -> int:
    """Run the terminal until its window closes; 0 on a clean exit."""
    _configure_kivy()
    from terminal.app import TerminalApp

    app = TerminalApp(Path(data_dir))
    try:
        app.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a person at a console closes it: a clean stop, not an error
    finally:
        # After the window closed, off any frame: a leader hands over before it stops.
        app.backend.stop()
    return 0
