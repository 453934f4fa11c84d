"""The bump bar and keyboard: which key does what on which screen (no Kivy here).

Bump bars send digits and arrows like a keyboard. ``action`` maps one key press
to an action name and its argument; the app performs it. Keeping the table here
lets a site remap keys in one place and lets tests check it without a window.
"""

from __future__ import annotations

ESCAPE, BACKSPACE, ENTER, NUMPAD_ENTER, RIGHT, LEFT = 27, 8, 13, 271, 275, 276

Action = tuple[str, str | int | None]
# Only these: str.isdigit also takes "²" and other digits a PIN or a bump must not be.
DIGITS = frozenset("0123456789")

# Rules: letter keys, on any screen but the PIN pad.
LETTERS: dict[str, Action] = {"a": ("toggle", "all_day"), "r": ("toggle", "recall"),
                              "0": ("show", "rail")}  # fmt: skip
ARROWS: dict[int, Action] = {LEFT: ("turn", -1), RIGHT: ("turn", 1)}


def action(screen: str, key: int, text: str | None) -> Action | None:
    """What pressing ``key`` (typing ``text``) means on ``screen``; None: not ours."""
    if key == ESCAPE:  # back to the rail; never quit the kitchen's screen
        return ("show", "rail")
    if screen == "login":
        if text and text in DIGITS:
            return ("pin", text)
        if key in (ENTER, NUMPAD_ENTER):
            return ("pin", "enter")
        if key == BACKSPACE:
            return ("pin", "clear")
        return ("ignore", None)
    if text and text in DIGITS and text != "0":
        if screen == "rail":
            return ("bump", int(text))
        if screen == "recall":
            return ("recall", int(text))
        return ("ignore", None)
    if key in ARROWS:
        return ARROWS[key]
    if text in LETTERS:
        return LETTERS[text]
    return None
