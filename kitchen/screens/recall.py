"""Recall: this station's recently bumped tickets, newest first; a tap brings one back.

Each row's REFIRE button asks for the refire screen instead: a dish that was
bumped and then dropped or sent back is cooked again on a new ticket, and the
bumped one stays bumped.
"""

from __future__ import annotations

import time

from kivy.properties import ListProperty, ObjectProperty
from kivy.uix.screenmanager import Screen

from kitchen.model import TicketView
from kitchen.screens import load_kv

load_kv(__file__)


def summary(view: TicketView) -> str:
    items = ", ".join(f"{i.qty} {i.name}" for i in view.items if i.state != "voided")
    when = ""
    if view.bumped_at is not None:  # the leader's stamp, shown in this device's local time
        when = time.strftime("bumped at %H:%M   ", time.localtime(view.bumped_at / 1000))
    return when + (items or "(all voided)")


class RecallScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    rows = ListProperty([])
    recall_handler = ObjectProperty(None, allownone=True)  # callable(ticket_id)
    refire_handler = ObjectProperty(None, allownone=True)  # callable(view, line | None)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._views: dict[str, TicketView] = {}

    def set_tickets(self, views: list[TicketView]) -> None:
        self._views = {v.id: v for v in views}
        rows = [
            {
                "position": str(i),
                "ticket_id": v.id,
                "title": ("REFIRE   " if v.refire else "")
                + f"Table {v.table}   #{v.check}   {v.server}",
                "items": summary(v),
                "screen": self,
            }
            for i, v in enumerate(views, start=1)
        ]
        if rows != self.rows:
            self.rows = rows

    def recall(self, ticket_id: str) -> None:
        if self.recall_handler is not None:
            self.recall_handler(ticket_id)

    def refire(self, ticket_id: str) -> None:
        view = self._views.get(ticket_id)
        if view is not None and self.refire_handler is not None:
            self.refire_handler(view, None)

    def recall_position(self, position: int) -> None:
        if 1 <= position <= len(self.rows):
            self.recall(self.rows[position - 1]["ticket_id"])
