"""Refire: a cook picks what to cook again and why, then the app sends the ledger's ``refire``.

Opened from a ticket on the rail (its REFIRE button, or holding one of its
items) or from the recall list. The screen keeps the choice while the command
is on its way and after it was not saved, so a cook told "not saved" taps
REFIRE again and retypes nothing. It never sends anything itself: ``send``
hands the choice to the app, which owns the command and its id.
"""

from __future__ import annotations

from kivy.properties import (
    BooleanProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.screenmanager import Screen
from kivy.utils import escape_markup

from kitchen.model import REFIRE_REASONS, ItemView, TicketView, refirable
from kitchen.screens import load_kv

load_kv(__file__)


def item_detail(item: ItemView) -> str:
    """The second line of an item: seat, modifiers, note; or why it cannot be chosen."""
    if not refirable(item):
        return "voided: not cooked again"
    parts = [f"seat {item.seat}"] if item.seat else []
    parts += list(item.modifiers)
    if item.note:
        parts.append(f">> {item.note}")
    if item.state == "bumped":
        parts.append("(bumped)")
    return str(escape_markup(",  ".join(parts)))


class RefireScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    title = StringProperty("")
    rows = ListProperty([])  # one per item of the ticket, for the RecycleView
    reasons = ListProperty(list(REFIRE_REASONS))
    reason = StringProperty("")
    chosen_count = NumericProperty(0)
    busy = BooleanProperty(False)  # sent, no answer yet: taps wait, the choice stays
    problem = StringProperty("")
    send_handler = ObjectProperty(None, allownone=True)  # callable(view, lines, reason)
    cancel_handler = ObjectProperty(None, allownone=True)  # callable()

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.view: TicketView | None = None
        self.chosen: set[str] = set()

    def open(self, view: TicketView, lines: list[str] | None = None) -> None:
        """Show ``view``'s items; ``lines`` preselected (None: the only item, if just one)."""
        usable = [i.line for i in view.items if refirable(i)]
        if lines is None:
            lines = usable if len(usable) == 1 else []
        self.view = view
        self.chosen = {line for line in lines if line in usable}
        self.reason = ""
        self.problem = ""
        self.busy = False
        self.title = f"REFIRE   Table {view.table}   #{view.check}   {view.server}"
        self._fill()

    def lines(self) -> list[str]:
        """The chosen lines in the ticket's order."""
        view = self.view
        return [i.line for i in view.items if i.line in self.chosen] if view else []

    # -- taps ---------------------------------------------------------------------
    def toggle(self, line: str) -> None:
        if self.busy or self.view is None:
            return
        if line in self.chosen:
            self.chosen.discard(line)
        elif any(i.line == line and refirable(i) for i in self.view.items):
            self.chosen.add(line)
        self.problem = ""
        self._fill()

    def choose_all(self) -> None:
        if self.busy or self.view is None:
            return
        usable = {i.line for i in self.view.items if refirable(i)}
        self.chosen = set() if self.chosen == usable else usable
        self.problem = ""
        self._fill()

    def choose_reason(self, reason: str) -> None:
        if not self.busy:
            self.reason = reason
            self.problem = ""

    def send(self) -> None:
        if self.busy or self.view is None:
            return
        if not self.chosen:
            self.problem = "Tap the items to cook again first"
        elif not self.reason:
            self.problem = "Tap why it is cooked again first"
        elif self.send_handler is not None:
            self.busy = True
            self.problem = ""
            self.send_handler(self.view, self.lines(), self.reason)

    def cancel(self) -> None:
        if self.cancel_handler is not None:
            self.cancel_handler()

    # -- from the app -------------------------------------------------------------
    def failed(self, text: str) -> None:
        """Not saved or refused: say why and keep the choice for another try."""
        self.busy = False
        self.problem = text

    def _fill(self) -> None:
        view = self.view
        items = view.items if view else ()
        self.rows = [
            {
                "line": i.line,
                "name": f"[b]{i.qty}[/b]  {escape_markup(i.name)}"
                if refirable(i)
                else f"[s]{i.qty}  {escape_markup(i.name)}[/s]",
                "detail": item_detail(i),
                "selected": i.line in self.chosen,
                "selectable": refirable(i),
                "screen": self,
            }
            for i in items
        ]
        self.chosen_count = len(self.chosen)
