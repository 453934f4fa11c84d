"""Menu items that keep their pressed look while the line they add is on its way.

No Kivy here (a button is anything with a ``sent`` flag), so it is tested without
a window. A tapped item stays pressed until the check shows a change: the line
and the release are then drawn in one frame. When the check reads the same after
an acknowledged command (a duplicate tap), that command releases its own item a
little later; an earlier command never releases an item pressed again since, by
the same or a later tap (that drew the release, and so a frame, before the line).
"""

from __future__ import annotations

from typing import Protocol


class Pressable(Protocol):
    sent: bool


class PressedItems:
    def __init__(self) -> None:
        self._held: dict[int, tuple[Pressable, str]] = {}  # id(item) -> (item, command id)

    def press(self, item: Pressable, command_id: str) -> None:
        """``item`` was tapped and sent ``command_id``: pressed until shown or settled."""
        item.sent = True
        self._held[id(item)] = (item, command_id)

    def shown(self) -> None:
        """The check changed on screen: every item pressed is released in that frame."""
        for item, _ in self._held.values():
            item.sent = False
        self._held.clear()

    def settled(self, command_id: str) -> None:
        """``command_id`` is answered and its change shown or not coming: release its item,
        unless that item has been pressed again for another command since."""
        for key, (item, held_for) in list(self._held.items()):
            if held_for == command_id:
                item.sent = False
                del self._held[key]

    def __len__(self) -> int:
        return len(self._held)
