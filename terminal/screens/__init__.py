"""The terminal's screens: each a thin Screen class beside its own .kv file.

``SCREENS`` maps a screen's name to its class and .kv file, in the order the
app adds them. Every screen offers ``prepare(**kwargs)`` (what to show, before
it is entered) and ``refresh()`` (read the node again: called after every change
the node applies, coalesced).
"""

from __future__ import annotations

from terminal.screens.check import CheckScreen
from terminal.screens.floor import FloorScreen
from terminal.screens.login import LoginScreen
from terminal.screens.manager import ManagerScreen
from terminal.screens.pay import PayScreen
from terminal.screens.setup import SetupScreen

SCREENS = {
    "setup": (SetupScreen, "setup.kv"),
    "login": (LoginScreen, "login.kv"),
    "floor": (FloorScreen, "floor.kv"),
    "check": (CheckScreen, "check.kv"),
    "pay": (PayScreen, "pay.kv"),
    "manager": (ManagerScreen, "manager.kv"),
}
