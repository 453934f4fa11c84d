"""Steps the terminal tests share, written as a server would do them: by touch."""

from __future__ import annotations

from typing import Any

from mesh.client.api import ControlClient
from tests.support.ui import UiApp

LOGIN_S = 30.0  # the node may still be catching up with the site's log (the staff list)


def login(app: UiApp, pin: str) -> None:
    app.wait(id="pad", timeout=LOGIN_S)
    app.wait("Starting…", gone=True, timeout=LOGIN_S)
    app.wait("Waiting for the staff list", contains=True, gone=True, timeout=LOGIN_S)
    for digit in pin:
        app.tap(digit)
    app.tap("OK")
    app.wait(id="new_check", timeout=10)


def open_check(app: UiApp, table: str, guests: int = 2) -> None:
    app.tap(id="new_check")
    app.wait(id="open_check")
    for digit in table:
        app.tap(digit)
    for _ in range(guests - 2):  # the pad starts at 2 guests
        app.tap(id="guests_more")
    app.tap(id="open_check")
    app.wait(id="fire_all")


def add_item(app: UiApp, category: str, item: str, modifiers: tuple[str, ...] = ()) -> None:
    """Add one of ``item``; with ``modifiers`` it goes through the modifier dialog."""
    app.tap(category)
    app.tap(item, contains=True)
    if modifiers:
        app.wait(id="add")
        for modifier in modifiers:
            app.tap(modifier, contains=True)
        app.tap(id="add")
        app.wait(id="add", gone=True)


def the_check(client: ControlClient, table: str) -> dict[str, Any]:
    checks = client.checks(all=True)["checks"]
    mine = [c for c in checks if c["table"] == table]
    assert len(mine) == 1, checks
    reply = client.checks(check=mine[0]["id"])
    assert reply["ok"], reply
    check: dict[str, Any] = reply["check"]
    return check


def money(minor: int) -> str:
    return f"${minor // 100:,}.{minor % 100:02d}"
