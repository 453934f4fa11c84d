"""The KDS's own settings: which station, who bumps, when a ticket turns yellow and red.

Read once at start-up, before the window opens, from the optional
``DATA/kitchen.json``; every field has a default so a fresh device works with
none. The node's own configuration stays the node's: this file only holds what
a kitchen screen needs on top.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

SETTINGS_FILE = "kitchen.json"
STATIONS = ("grill", "fry", "cold", "bar", "expo")
DRAW_PRIORITIES = ("realtime", "normal")


class SettingsError(ValueError):
    """kitchen.json is there but cannot be used (the message says which field)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KitchenSettings:
    station: str | None = None  # None: the node's station, else expo
    # A staff id that bumps when nobody has logged in (a bump bar with no keypad).
    # Without it the screen asks a cook for a PIN once per shift.
    default_staff: str | None = None
    warn_after_s: int = 300  # the ticket header turns yellow
    late_after_s: int = 480  # ... and red
    card_width: int = 300  # px; the rail shows as many columns as fit
    submit_timeout_s: float = 3.0  # a bump that cannot be acknowledged says so after this
    fullscreen: bool = False
    # Draw a frame only where it changed, where the back buffer is shown to keep its
    # pixels (kitchen/damage.py); false draws every frame whole.
    partial_redraw: bool = True
    # "realtime": the UI thread and the renderer's threads at the lowest real-time
    # priority where allowed (kitchen/draw_priority.py); "normal": as every thread.
    draw_priority: str = "realtime"
    width: int = 1920
    height: int = 1080

    def __post_init__(self) -> None:
        if self.station is not None and self.station not in STATIONS:
            raise SettingsError(f"station must be one of {', '.join(STATIONS)}")
        if not 0 < self.warn_after_s < self.late_after_s:
            raise SettingsError("need 0 < warn_after_s < late_after_s")
        if self.draw_priority not in DRAW_PRIORITIES:
            raise SettingsError(f"draw_priority must be one of {', '.join(DRAW_PRIORITIES)}")
        if not 160 <= self.card_width <= 1000:
            raise SettingsError("card_width must be between 160 and 1000 px")


def load_settings(data_dir: Path) -> KitchenSettings:
    path = data_dir / SETTINGS_FILE
    if not path.exists():
        return KitchenSettings()
    try:
        raw: Any = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path.name}: {exc}") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"{path.name} must hold a JSON object")
    known = {f.name for f in fields(KitchenSettings)}
    unknown = set(raw) - known
    if unknown:
        raise SettingsError(f"{path.name} has unknown keys: {', '.join(sorted(unknown))}")
    try:
        return KitchenSettings(**raw)
    except TypeError as exc:
        raise SettingsError(f"{path.name}: {exc}") from exc


def node_station(status: Any) -> str | None:
    """The station the node's ``status`` says this device serves, if any.

    Anything unexpected there (an older node, no station) means "no station".
    """
    device = status.get("device") if isinstance(status, dict) else None
    station = device.get("station") if isinstance(device, dict) else None
    return station if station in STATIONS else None
