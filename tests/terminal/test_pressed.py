"""A tapped menu item keeps its pressed look until its line shows, and no longer."""

from __future__ import annotations

from terminal.pressed import PressedItems


class Item:
    sent = False


def test_the_check_shown_releases_every_item_pressed() -> None:
    pressed, soda, ipa = PressedItems(), Item(), Item()
    pressed.press(soda, "c1")
    pressed.press(ipa, "c2")
    assert soda.sent and ipa.sent
    pressed.shown()
    assert not soda.sent and not ipa.sent and len(pressed) == 0


def test_an_acknowledged_command_whose_line_never_shows_releases_its_own_item() -> None:
    pressed, soda, ipa = PressedItems(), Item(), Item()
    pressed.press(soda, "c1")
    pressed.press(ipa, "c2")
    pressed.settled("c1")  # a duplicate: the check read the same, nothing shown
    assert not soda.sent and ipa.sent


def test_an_earlier_command_never_releases_the_same_item_pressed_again() -> None:
    # Tap, line shown, tap again: the first tap's late release must not draw the
    # second one released (a frame of its own) before the second line shows.
    pressed, soda = PressedItems(), Item()
    pressed.press(soda, "c1")
    pressed.shown()
    pressed.press(soda, "c2")
    pressed.settled("c1")
    assert soda.sent
    pressed.settled("c2")
    assert not soda.sent
