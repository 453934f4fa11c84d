"""The rail: open tickets in columns, oldest first, a page at a time.

Cards are keyed by ticket id and kept between updates, so a ticket can never be
drawn twice and a change redraws only its own card. A new ticket's card is
built at once when it lands on the visible page; the cards of the pages either
side are built a few per frame in the background, so a page turn or a bump
never stalls a frame. Tickets further away have no card: a card is some 7,000
Python objects (Kivy's properties and bindings), and 60 of them made every full
garbage collection of the process walk half a million objects, about half a
second with the UI thread stopped. Cards that leave go to a small pool and are
re-filled for the next ones. The pool is filled ahead too (to ``SPARE_CARDS``), a card at
a time, once the rail knows a column's size: a new ticket then takes a card that is built
and laid out, with item rows ready, and only its texts change before its first frame
(building one there cost 10-40 ms of UI thread in a rush, measured, with the ticket
waiting for it).

Cards draw no background: the window is cleared to their grey, and the rail
paints only the dark gaps between the columns (and right of the last one), so a
frame fills a few thin strips instead of the whole page twice.
"""

from __future__ import annotations

from itertools import zip_longest
from math import floor
from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.metrics import dp
from kivy.properties import NumericProperty, ObjectProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kitchen.model import TicketView
from kitchen.screens import load_kv
from kitchen.widgets import InkLabel, TicketCard

load_kv(__file__)

BACKGROUND = (0.04, 0.04, 0.05, 1)  # between the columns, as behind every other screen
BUILD_PER_FRAME = 4  # off-page cards made per frame: a few ms each on a slow tablet
KEEP_PAGES = 1  # pages either side of the one on show whose cards are kept built
POOL_MAX = 8  # spare cards: as many as a few bumps in a row free and new tickets take
# Cards built ahead while the pool holds fewer than this. Below POOL_MAX, so that in a rush,
# where bumps hand cards back about as fast as new tickets take them, cards are seldom built
# ahead only for a bumped ticket's card to find the pool full and be dropped (measured:
# with the target at POOL_MAX, 22 cards were built ahead in 15 s of rush).
SPARE_CARDS = 4
SPARE_ROWS = 4  # item rows a card built ahead has ready: most tickets have no more
# A card is built ahead this long after the pool ran short, so that the frame of the ticket
# that took one (or a bump's) does not wait for it.
SPARE_AFTER_S = 0.5


def column_width(total: float, spacing: float, cols: int) -> float:
    """A card's width: whole pixels, so that a card moved by whole columns moves by whole
    pixels and its picture can be copied there (kitchen/damage.py); the rest of the row's
    pixels, fewer than ``cols``, go to the strip right of the last column."""
    return float(max(1, floor((total - spacing * (cols - 1)) / cols)))


class RailScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    columns = NumericProperty(1)
    card_width = NumericProperty(300)
    page = NumericProperty(0)
    pages = NumericProperty(1)
    open_count = NumericProperty(0)
    empty_text = StringProperty("Waiting for the node...")
    bump_handler = ObjectProperty(None, allownone=True)  # callable(ticket_id, line | None)
    refire_handler = ObjectProperty(None, allownone=True)  # callable(view, line | None)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._views: dict[str, TicketView] = {}
        self._order: list[str] = []
        self._told = False  # set_tickets has run: "Waiting for the node..." is gone
        self._cards: dict[str, TicketCard] = {}
        self._pool: list[TicketCard] = []
        self._shown: list[TicketCard] = []
        self._card_size = (0.0, 0.0)  # a column's, set on every layout
        self._build_event = Clock.create_trigger(self._build_some, 0)
        self._spare_event = Clock.create_trigger(self._build_spare, SPARE_AFTER_S)
        box = self.ids.cards
        with box.canvas.before:
            Color(*BACKGROUND)
        self._dark: list[Rectangle] = []
        self._numbers: list[InkLabel] = []  # the bump bar's keys, one over each column
        box.bind(size=lambda *_: self._relayout(), pos=lambda *_: self._paint_gaps())
        # The numbers' row moves on its own when a banner comes or goes (it keeps to the top).
        self.ids.numbers.bind(pos=lambda *_: self._paint_gaps())
        self.bind(card_width=lambda *_: self._relayout())
        # The cards clip their items in window coordinates: a banner or the message line
        # moves the whole screen, which moves no card within it.
        self.bind(pos=lambda *_: self._reclip())

    # -- what the app calls -------------------------------------------------------
    def set_tickets(self, views: list[TicketView]) -> None:
        if (
            self._told
            and [v.id for v in views] == self._order
            and all(self._views[v.id] == v for v in views)
        ):  # nothing this screen shows changed: nothing to compare or lay out again
            return
        self._told = True
        fresh = {v.id: v for v in views}
        for gone in set(self._views) - set(fresh):
            self._release(gone)
        for tid, view in fresh.items():
            card = self._cards.get(tid)
            if card is not None and self._views.get(tid) != view:
                card.show(view)
        self._views = fresh
        self._order = [v.id for v in views]
        self.open_count = len(views)
        self.empty_text = "All clear: no open tickets" if not views else ""
        self._relayout()

    def view(self, ticket_id: str) -> TicketView | None:
        return self._views.get(ticket_id)

    def card(self, ticket_id: str) -> TicketCard | None:
        return self._cards.get(ticket_id)

    def visible(self) -> list[TicketCard]:
        return list(self._shown)

    def order(self) -> list[str]:
        return list(self._order)

    def turn(self, delta: int) -> None:
        self.page = max(0, min(self.pages - 1, self.page + delta))
        self._relayout()

    def bump_position(self, position: int) -> None:
        """The bump bar's number key: bump the whole ticket at that place on this page."""
        if 1 <= position <= len(self._shown):
            self._shown[position - 1].bump_whole()

    def tick(self, now_ms: float, warn_s: float, late_s: float, new_only: bool = False) -> None:
        """Each card's age timer and colour; ``new_only``: only cards that show none yet.

        The timers move on once a second (the app's clock). A list of tickets arriving
        in between ages only the cards it brought: aged there too, the timers of the other
        cards on the page would often tick in that frame, far from the cards that
        changed, and a frame that could have been one column becomes several passes.
        """
        for card in self._shown:  # only what is on screen needs its timer redrawn
            if not (new_only and card.aged):
                card.set_age(now_ms, warn_s, late_s)

    def clear_pending(self, ticket_id: str) -> None:
        card = self._cards.get(ticket_id)
        if card is not None:
            card.clear_pending()

    # -- cards ------------------------------------------------------------------------
    def _make(self, tid: str) -> TicketCard:
        card = self._pool.pop() if self._pool else TicketCard()
        card.bump_handler = self._bumped
        card.refire_handler = self._refire
        # Built at a column's size, off the page too: its labels are drawn once, at the
        # size they will have when the card comes onto the page.
        card.size = self._card_size
        card.show(self._views[tid])
        self._cards[tid] = card
        return card

    def _bumped(self, ticket_id: str, line: str | None) -> None:
        if self.bump_handler is not None:
            self.bump_handler(ticket_id, line)

    def _refire(self, ticket_id: str, line: str | None) -> None:
        view = self._views.get(ticket_id)
        if view is not None and self.refire_handler is not None:
            self.refire_handler(view, line)

    def _release(self, tid: str) -> None:
        card = self._cards.pop(tid, None)
        if card is not None and len(self._pool) < POOL_MAX:
            self._pool.append(card)

    def _build_spare(self, _dt: float) -> None:
        """One card for the pool, at a column's size, then a while later another."""
        if len(self._pool) >= SPARE_CARDS or self._card_size[0] <= 1:
            return
        card = TicketCard()
        card.size = self._card_size
        card.make_rows(SPARE_ROWS)
        self._pool.insert(0, card)  # under the cards bumped tickets left: those go first
        if len(self._pool) < SPARE_CARDS:
            self._spare_event()

    def _kept(self) -> list[str]:
        """The tickets whose cards are kept: the page on show and ``KEEP_PAGES`` either side."""
        cols = max(1, int(self.columns))
        first = max(0, self.page - KEEP_PAGES) * cols
        return self._order[first : (self.page + KEEP_PAGES + 1) * cols]

    def _build_some(self, _dt: float) -> None:
        made = 0
        for tid in self._kept():
            if tid not in self._cards:
                self._make(tid)
                made += 1
                if made >= BUILD_PER_FRAME:
                    self._build_event()
                    return

    def _relayout(self) -> None:
        box = self.ids.get("cards")
        if box is None:
            return
        spacing = box.spacing if isinstance(box.spacing, int | float) else box.spacing[0]
        cols = max(1, int((box.width + spacing) // (self.card_width + spacing)))
        self.columns = cols
        self.pages = max(1, -(-len(self._order) // cols))
        self.page = min(self.page, self.pages - 1)
        width = column_width(box.width, spacing, cols)
        self._card_size = (width, box.height)
        start = self.page * cols
        page_ids = self._order[start : start + cols]
        wanted = [self._cards.get(tid) or self._make(tid) for tid in page_ids]
        for i, card in enumerate(wanted, start=1):
            card.position = i
            card.width = width
        if wanted != self._shown:
            self._place_cards(box, wanted)
            self._shown = wanted
        self._paint_gaps()
        kept = self._kept()
        keep = set(kept)
        for tid in [t for t in self._cards if t not in keep]:
            self._release(tid)
        if any(tid not in self._cards for tid in kept):
            self._build_event()
        elif len(self._pool) < SPARE_CARDS:
            self._spare_event()

    def _place_cards(self, box: Any, wanted: list[TicketCard]) -> None:
        """The box's cards become ``wanted``, in that order, moving as few as it can.

        A bump takes one card out and brings one in; the others keep their order. Those
        stay in the box: taking every card out and adding it again cost each of them its
        removal and insertion (its canvas too), on the UI thread, in the bump's frame.
        """
        staying = [c for c in self._shown if c in wanted]
        if [c for c in wanted if c in staying] != staying:  # reordered: build the row anew
            staying = []
            box.clear_widgets()
        # By the box's own list: ``ids`` gives the box as a weak proxy, never ``is`` a parent.
        for card in [c for c in box.children if c not in staying]:
            box.remove_widget(card)
        for i, card in enumerate(wanted):
            if card in staying:
                continue
            if card.parent is not None:
                card.parent.remove_widget(card)
            # Kivy keeps children last-drawn first: the i-th from the left is len - i.
            box.add_widget(card, index=len(box.children) - i)

    def _reclip(self) -> None:
        for card in self._shown:
            card.ids.area.reclip()

    def _paint_gaps(self) -> None:
        """Dark strips where the box lays out no card: between columns, and empty columns.

        One rectangle per gap and one per column, each always at its own index: a card
        arriving in a column changes that column's rectangle only, and a frame drawn
        only where it changed (kitchen/damage.py) redraws that column, not the page.
        """
        box = self.ids.get("cards")
        if box is None:
            return
        spacing = box.spacing if isinstance(box.spacing, int | float) else box.spacing[0]
        cols, shown = max(1, int(self.columns)), len(self._shown)
        width = column_width(box.width, spacing, cols)
        strips = [(box.x + (i + 1) * width + i * spacing, spacing) for i in range(cols - 1)]
        strips += [
            (box.x + i * (width + spacing), width if i >= shown else 0.0) for i in range(cols)
        ]
        end = box.x + cols * width + (cols - 1) * spacing  # what rounding leaves on the right
        strips.append((end, max(0.0, box.right - end)))
        while len(self._dark) < len(strips):
            with box.canvas.before:
                self._dark.append(Rectangle())
        for rect, strip in zip_longest(self._dark, strips):
            x, w = strip if strip is not None and strip[1] > 0 else (0.0, 0.0)
            rect.pos, rect.size = (x, box.y), (w, box.height if w > 0 else 0.0)
        self._number_columns(cols, shown, width + spacing)

    def _number_columns(self, cols: int, shown: int, step: float) -> None:
        """The bump bar's number over each column that holds a card (its key on the bar).

        Each number stays with its column: a bump moves the cards and leaves the numbers as
        they are, so the cards' pictures can be copied and the numbers are not drawn again.
        """
        strip = self.ids.get("numbers")
        if strip is None:
            return
        while len(self._numbers) < cols:
            label = InkLabel(
                font_size="30sp", bold=True, color=(1, 1, 1, 1), size_hint=(None, None),
                halign="left", valign="middle",
            )  # fmt: skip
            label.bind(size=label.setter("text_size"))
            strip.add_widget(label)
            self._numbers.append(label)
        for i, label in enumerate(self._numbers):
            label.text = str(i + 1) if i < min(cols, shown) else ""
            label.pos = (strip.x + i * step + dp(8), strip.y)
            label.size = (dp(48), strip.height)
