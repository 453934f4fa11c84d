"""``tablemesh kitchen``: start this device's node, then the KDS window over it.

Kivy reads its configuration when its window module is first imported, so the
window size and key handling are set here before ``kitchen.app`` is imported.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from kitchen.settings import KitchenSettings, SettingsError, load_settings, node_station
from mesh.client import api


def configure_kivy(settings: KitchenSettings) -> None:
    os.environ.setdefault("KIVY_NO_ARGS", "1")  # our CLI owns the arguments
    os.environ.setdefault("KIVY_NO_FILELOG", "1")  # the node's log is the device's log
    from kivy.config import Config

    Config.set("kivy", "exit_on_escape", "0")  # Esc means "back to the rail" on a KDS
    Config.set("graphics", "width", str(settings.width))
    Config.set("graphics", "height", str(settings.height))
    Config.set("graphics", "fullscreen", "auto" if settings.fullscreen else "0")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    # Kivy asks for a 2x multisampled window by default. The KDS draws upright rectangles
    # and text, which multisampling does not change (only the status dot's rim), while a
    # software renderer (llvmpipe, no GPU) shades every pixel twice and resolves the
    # whole window on every buffer swap: 9x the CPU of an empty 1920x1080 frame here.
    Config.set("graphics", "multisamples", "0")
    # Kivy's default clock runs what another thread scheduled only at the next 1/60 s
    # tick, so a ticket handed over by the feed thread waited up to a frame before it was
    # even applied. The interruptible clock wakes the loop at once; frames are still drawn
    # only when something changed.
    Config.set("kivy", "kivy_clock", "interrupt")


def choose_station(asked: str | None, settings: KitchenSettings, status: Any) -> str:
    return asked or settings.station or node_station(status) or "expo"


def run(data_dir: Path, station: str | None) -> int:
    try:
        settings = load_settings(data_dir)
    except SettingsError as exc:
        sys.stderr.write(f"tablemesh kitchen: {exc}\n")
        return 2
    configure_kivy(settings)
    from kivy.clock import Clock

    from kitchen.app import KitchenApp

    node = api.EmbeddedNode(data_dir)
    try:
        client = node.start()
    except Exception as exc:  # whatever stops the node: said, not a traceback
        sys.stderr.write(f"tablemesh kitchen: this device's node did not start: {exc}\n")
        return 1
    try:
        chosen = choose_station(station, settings, client.status())
        app = KitchenApp(client, settings, chosen)

        def on_term(_sig: int, _frame: FrameType | None) -> None:
            Clock.schedule_once(lambda _dt: app.stop(), 0)

        signal.signal(signal.SIGTERM, on_term)
        app.run()
    except KeyboardInterrupt:
        pass  # Ctrl-C at a console closes the KDS: a clean stop, not an error
    finally:
        node.stop()
    return 0
