"""The one colour and size palette every .kv file uses (high contrast, readable at arm's length).

Colours are RGBA tuples for Kivy. Touch targets are never under ``TOUCH_MIN``
(48 dp is the floor; the main actions use ``TOUCH``).
"""

from __future__ import annotations

BG = (0.063, 0.078, 0.094, 1)
PANEL = (0.11, 0.137, 0.169, 1)
PANEL_HI = (0.16, 0.2, 0.24, 1)
TEXT = (0.96, 0.97, 0.98, 1)
MUTED = (0.68, 0.74, 0.8, 1)
PRIMARY = (0.12, 0.44, 0.92, 1)
OK = (0.16, 0.6, 0.29, 1)
WARN = (0.85, 0.6, 0.1, 1)
DANGER = (0.82, 0.2, 0.2, 1)
NEUTRAL = (0.25, 0.3, 0.36, 1)
ERROR_TEXT = (1.0, 0.55, 0.55, 1)  # red words that stay readable on the dark panels
DISABLED = (0.2, 0.22, 0.25, 1)
DISABLED_TEXT = (0.5, 0.53, 0.57, 1)
SELECTED = (0.2, 0.35, 0.6, 1)
SCROLL_BAR = (0.68, 0.74, 0.8, 0.6)  # always shown (never faded: see widgets._SteadyBar)

# Check stages on the floor (see terminal.present.check_stage).
STAGE = {
    "open": (0.18, 0.3, 0.46, 1),
    "fired": (0.7, 0.36, 0.02, 1),
    "paying": (0.12, 0.48, 0.23, 1),
    "closed": (0.25, 0.25, 0.25, 1),
}

DOT = {
    "green": (0.2, 0.8, 0.3, 1),
    "amber": (0.95, 0.7, 0.1, 1),
    "red": (0.9, 0.2, 0.2, 1),
    "cut_off": (0.9, 0.2, 0.2, 1),
    "starting": (0.5, 0.5, 0.5, 1),
}

TOUCH_MIN = "48dp"
TOUCH = "64dp"
FONT = "20sp"
FONT_BIG = "28sp"
FONT_HUGE = "56sp"
