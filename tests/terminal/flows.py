"""Steps the terminal tests share, written as a server would do them: by touch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mesh.client.api import ControlClient
from terminal import theme
from tests.support.ui import UiApp

LOGIN_S = 30.0  # the node may still be catching up with the site's log (the staff list)
DOT_TOLERANCE = 12  # per 0-255 channel: the disc's edge is antialiased, its middle is exact
DOT_MIN_PIXELS = 150  # of a 24 dp disc (about 450 px): enough to be the dot, not a stray edge


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


SENDING = "SENDING"  # a line tapped on the terminal, not acknowledged yet


def add_item(
    app: UiApp,
    category: str,
    item: str,
    modifiers: tuple[str, ...] = (),
    *,
    acknowledged: bool = True,
) -> None:
    """Add one of ``item``; with ``modifiers`` it goes through the modifier dialog.

    The line shows at once as SENDING; with ``acknowledged`` this waits until no line
    is (the ledger's own line has taken its place, or it was refused).
    """
    app.tap(category)
    app.tap(item, contains=True)
    if modifiers:
        app.wait(id="add")
        for modifier in modifiers:
            app.tap(modifier, contains=True)
        app.tap(id="add")
        app.wait(id="add", gone=True)
    if acknowledged:
        app.wait(SENDING, contains=True, gone=True, timeout=20)


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


def dot_colour(app: UiApp, shot: Path, id: str = "dot") -> str:
    """The theme colour (``theme.DOT`` name) the dot ``id`` is painted in, read from pixels.

    Takes the square at the left of the dot's widget (where the disc is drawn)
    from a screenshot taken while the same widgets were on screen, and counts the
    pixels close to each dot colour: a property could say amber while the canvas
    drew something else, the pixels cannot. Red and cut off share a colour.
    """
    from PIL import Image

    where = app.find(id=id)
    with Image.open(shot) as img:
        rgb = img.convert("RGB")
        # Kivy's window y grows upwards from the bottom; an image's rows go down from the top.
        left = int(where["x"] - where["width"] / 2)
        top = int(rgb.height - (where["y"] + where["height"] / 2))
        side = int(where["height"])
        raw = rgb.crop((left, top, left + side, top + side)).tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    counts: dict[str, int] = {}
    for name, rgba in theme.DOT.items():
        want = [round(c * 255) for c in rgba[:3]]
        counts[name] = sum(
            1
            for px in pixels
            if all(abs(a - b) <= DOT_TOLERANCE for a, b in zip(px, want, strict=True))
        )
    best = max(counts, key=lambda name: counts[name])
    assert counts[best] >= DOT_MIN_PIXELS, f"no dot colour in {shot.name}: {counts}"
    return best
