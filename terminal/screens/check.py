"""One check: its lines by seat and course, the menu, and what a server does to a check.

Every figure on this screen (line amounts, totals, balance) is the ledger's; the
screen only lays them out. A refusal (an 86'd item, a void that needs a manager)
is the ledger's answer, shown in its words.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button

from terminal import present, theme, wording
from terminal.backend import PendingCommand, Reply
from terminal.follow import Follow
from terminal.pressed import PressedItems
from terminal.screens.base import TerminalScreen
from terminal.sending import ACKNOWLEDGED_KEEP_S, SendingLines

MAX_SEATS_SHOWN = 8
COURSES = (1, 2, 3)
SENT_RELEASE_S = 0.5  # s after an acknowledged add a tapped item looks released regardless


def _ignore(_reply: Reply) -> None:
    """An acknowledged change needs no action here: the followed check shows it."""


def _sized(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each row its height: a line with modifiers or a note takes two lines of text."""
    for row in rows:
        row["height"] = dp(76) if "\n" in row["text"] else dp(52)
    return rows


class MenuItem(Button):  # type: ignore[misc]
    """A menu button that stays pressed (``sent``) until the line it added is shown."""

    tone = ListProperty(list(theme.PANEL_HI))
    sent = BooleanProperty(False)


class LineRow(ButtonBehavior, BoxLayout):  # type: ignore[misc]
    kind = StringProperty("line")
    text = StringProperty("")
    amount = StringProperty("")
    line_id = StringProperty("")
    selected = BooleanProperty(False)

    def on_release(self) -> None:
        from kivy.app import App

        if self.kind == "line":
            App.get_running_app().manager.get_screen("check").select_line(self.line_id)


class CheckScreen(TerminalScreen):
    """The check is followed (``Backend.follow``): read again off the UI thread after each
    change the node applies, and shown only when it differs, row by row."""

    title = "Check"
    refresh_on_change = False  # the follow reads the check; a refresh per change would too
    ref = StringProperty("")
    check = DictProperty({})
    category = StringProperty("")
    seat = NumericProperty(1)
    course = NumericProperty(1)
    seats = ListProperty([])
    selected_line = StringProperty("")
    header = StringProperty("")
    totals_text = StringProperty("")
    balance_text = StringProperty("")
    is_open = BooleanProperty(True)
    _menu_bound = False
    _follow: Follow | None = None
    _scroll_to_end = False  # this terminal added a line: bring it into view when it shows

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pressed = PressedItems()  # menu items tapped whose line is not shown yet
        self._sending = SendingLines()  # lines tapped here, shown before they are acknowledged

    def prepare(self, **kwargs: Any) -> None:
        ref = str(kwargs.get("check", self.ref))
        if ref != self.ref:
            self._unfollow()
            self.ref, self.check, self.selected_line = ref, {}, ""
            self._sending.clear()
            self.ids.lines.data = []
            self.seat, self.course = 1, 1
            self.header, self.totals_text, self.balance_text = f"Check {ref}", "", ""
        self.app.load_catalog()

    def on_pre_enter(self, *_args: Any) -> None:
        if not self._menu_bound:
            # A new catalog or an item 86'd (or back) while the screen is open redraws the menu.
            self.app.fbind("catalog", self._menu_changed)
            self.app.fbind("eighty_six", self._menu_changed)
            self._menu_bound = True
        self.build_menu()

    def _menu_changed(self, *_args: Any) -> None:
        if self.manager is not None and self.manager.current == self.name:
            self.build_menu()

    # -- reading --------------------------------------------------------------
    def refresh(self) -> None:
        """Follow the check (one read now, then one per change); nothing if already followed."""
        if not self.ref or not self.app.backend.ready:
            return
        follow = self._follow
        if follow is not None and follow.active and follow.args.get("check") == self.ref:
            return
        self._unfollow()
        self._follow = self.app.backend.follow("checks", self.show, check=self.ref)

    def on_leave(self, *_args: Any) -> None:
        # Off screen, the check is not read again after every change; entering follows it anew.
        self._unfollow()

    def _unfollow(self) -> None:
        if self._follow is not None:
            self._follow.stop()
            self._follow = None

    def show(self, reply: Reply) -> None:
        if not reply.get("ok"):
            return
        check = reply["check"]
        site = self.app.site
        self._pressed.shown()  # drawn in the same frame as the line they added
        self.app.release_gc_after_frame()
        # A sending row whose line this read holds goes: the line takes its place.
        self._sending.shown(check, self.check, time.monotonic())
        self.check = check
        self.is_open = check.get("status") == "open"
        self._show_rows()
        mark = (
            "  [color=#ffd27a][size=16sp]not synced[/size][/color]"
            if present.not_synced(check)
            else ""
        )
        server = present.staff_name(check.get("server"), self.app.catalog)
        status = "" if self.is_open else "  [color=#ff8080]CLOSED[/color]"
        self.header = (
            f"[b]Table {check.get('table')}[/b]   {present.check_label(check)}{mark}{status}\n"
            f"[size=16sp][color=#b8c4d0]{server} · {check.get('guests')} guests[/color][/size]"
        )
        t = check.get("totals") or {}
        m = partial(present.money, site=site)
        held = check.get("held_courses") or []
        self.totals_text = (
            f"Subtotal {m(t.get('subtotal', 0))}   Tax {m(t.get('tax_added', 0))}   "
            f"Total {m(t.get('total', 0))}   Paid {m(t.get('paid', 0))}"
            + (f"   Held: course {', '.join(map(str, held))}" if held else "")
        )
        self.balance_text = f"Due {m(t.get('balance', 0))}"
        guests = int(check.get("guests") or 1)
        self.seats = list(range(0, min(max(guests, 1), MAX_SEATS_SHOWN) + 1))

    def select_line(self, line_id: str) -> None:
        self.selected_line = "" if self.selected_line == line_id else line_id
        self._show_rows()

    def _show_rows(self) -> None:
        """The check's lines, then those tapped here and not acknowledged yet."""
        lines = [*(self.check.get("lines") or []), *self._sending.lines()]
        self._set_rows(_sized(present.line_rows(lines, self.app.site, self.selected_line or None)))

    @property
    def rows(self) -> list[dict[str, Any]]:
        """The rows the line list shows (its RecycleView's data)."""
        return list(self.ids.lines.data)

    def _set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Change only the rows that differ: a line added at the end appends one row.

        Replacing the whole list makes the list view lay out and refresh every row;
        an append or an edit in place touches only those rows' views.
        """
        view = self.ids.lines
        data = view.data
        old = len(data)
        if old and len(rows) > old and all(data[i] == rows[i] for i in range(old)):
            data.extend(rows[old:])
            self._after_append(view)
        elif old and len(rows) == old:
            changed = [i for i in range(old) if data[i] != rows[i]]
            if changed:
                first, last = changed[0], changed[-1] + 1
                data[first:last] = rows[first:last]
        else:
            view.data = rows
            if len(rows) > old:
                self._after_append(view)

    def _after_append(self, view: Any) -> None:
        if self._scroll_to_end:
            self._scroll_to_end = False
            # After the list view has laid the new rows out (its refresh is queued first).
            Clock.schedule_once(lambda _dt: setattr(view, "scroll_y", 0), -1)

    # -- the menu -------------------------------------------------------------
    def on_category(self, *_args: Any) -> None:
        self.build_menu()

    def build_menu(self) -> None:
        catalog = self.app.catalog
        if not catalog:
            return
        categories = catalog.get("categories") or {}
        if self.category not in categories and categories:
            self.category = next(iter(categories))  # on_category builds the menu
            return
        cats = self.ids.categories
        cats.clear_widgets()
        for cid, cat in categories.items():
            # Plain buttons, not a ToggleButton group: Kivy's groups keep weak
            # references to the rebuilt buttons and can trip over a dead one.
            tone = theme.SELECTED if cid == self.category else theme.NEUTRAL
            btn = Factory.TButton(text=cat["name"], tone=tone)
            btn.bind(on_release=partial(self._pick_category, cid))
            cats.add_widget(btn)
        grid = self.ids.menu
        grid.clear_widgets()
        out = set(self.app.eighty_six)
        for iid, item in (catalog.get("items") or {}).items():
            if item.get("category") != self.category:
                continue
            gone = iid in out
            price = present.money(int(item["price"]), self.app.site)
            label = f"[b]{item['name']}[/b]\n[size=16sp]{price}[/size]"
            if gone:
                label = f"[s]{item['name']}[/s]\n[size=16sp]86'd: out[/size]"
            btn = MenuItem(text=label, tone=theme.DISABLED if gone else theme.PANEL_HI)
            btn.bind(on_release=partial(self._tap_item, iid))
            grid.add_widget(btn)

    def _pick_category(self, cid: str, *_args: Any) -> None:
        self.category = cid

    def _tap_item(self, item_id: str, *args: Any) -> None:
        item = (self.app.catalog.get("items") or {}).get(item_id) or {}
        if item.get("modifiers") and item_id not in self.app.eighty_six:
            from terminal.popups import ModifierPopup

            ModifierPopup(
                item_id=item_id,
                catalog=self.app.catalog,
                when_add=lambda mods, qty, note: self.add_item(item_id, mods, qty, note),
            ).open()
            return
        button = args[0] if args and isinstance(args[0], MenuItem) else None
        self.add_item(item_id, [], 1, "", pressed=button)

    def add_item(
        self,
        item_id: str,
        modifiers: list[str],
        qty: int,
        note: str,
        pressed: MenuItem | None = None,
    ) -> None:
        order: dict[str, Any] = {
            "item": item_id,
            "qty": qty,
            "seat": int(self.seat),
            "course": int(self.course),
        }
        if modifiers:
            order["modifiers"] = modifiers
        if note:
            order["note"] = note
        pending = PendingCommand.make(
            "add_items", self.app.staff["id"], check=self.ref, items=[order]
        )
        if pressed is not None:  # pressed until the line shows (see MenuItem in check.kv)
            self._pressed.press(pressed, pending.id)
        self.app.hold_gc()
        self._scroll_to_end = True
        if self.is_open and item_id not in self.app.eighty_six:
            # On the check at once, as sending (terminal/sending.py); an item the menu
            # already shows as 86'd is refused by the ledger, so it gets no row.
            self._sending.add(pending.id, order, self.app.staff["id"], self.app.catalog)
            self._show_rows()
        # Sent once the frame showing the row is drawn (a timeout of 0 runs after the
        # next frame): the node's commit and the software renderer would otherwise
        # share the two cores and slow each other. Taps are still sent in tap order.
        # No read here: the follow reads the check once the node has applied the line.
        send = partial(
            self.send,
            pending,
            partial(self._added, pending.id),
            on_refused=partial(self._not_added, pending.id),
            on_send=partial(self._resent, pending.id),
        )
        Clock.schedule_once(lambda _dt: send(), 0)

    def _added(self, command_id: str, reply: Reply) -> None:
        now = time.monotonic()
        if self._sending.acknowledged(command_id, reply.get("outcome"), self.check, now):
            self._show_rows()
        elif command_id in self._sending:
            # Its line comes with the follow's next read; if none shows it, the row goes.
            Clock.schedule_once(self._drop_overdue, ACKNOWLEDGED_KEEP_S + 0.05)
        # The line normally shows first (and releases the button); if the check read the
        # same (a duplicate tap), the button must not stay pressed.
        Clock.schedule_once(lambda _dt: self._pressed.settled(command_id), SENT_RELEASE_S)

    def _drop_overdue(self, _dt: float) -> None:
        if self._sending.overdue(time.monotonic()):
            self._show_rows()

    def _not_added(self, command_id: str, reply: Reply) -> None:
        self._pressed.settled(command_id)
        self.app.release_gc_after_frame()
        # Not acknowledged: the row stays, NOT CONFIRMED, for Retry; refused: it goes.
        if wording.is_retryable(reply):
            changed = self._sending.unconfirmed(command_id)
        else:
            changed = self._sending.refused(command_id)
        if changed:
            self._show_rows()

    def _resent(self, command_id: str) -> None:
        if self._sending.resent(command_id):
            self._show_rows()

    # -- actions --------------------------------------------------------------
    def _simple(self, type_: str, **fields: Any) -> None:
        pending = PendingCommand.make(type_, self.app.staff["id"], check=self.ref, **fields)
        self.send(pending, _ignore)

    def fire(self, course: int | None = None) -> None:
        self._simple("fire", course=course)

    def hold(self) -> None:
        self._simple("hold_course", course=int(self.course))

    def close(self) -> None:
        pending = PendingCommand.make("close_check", self.app.staff["id"], check=self.ref)
        self.send(pending, lambda _r: self.app.go("floor"))

    def pay(self) -> None:
        self.app.go("pay", check=self.ref)

    def receipt(self) -> None:
        from terminal.popups import ReceiptPopup

        ReceiptPopup(text=present.receipt_text(self.check, self.app.catalog)).open()

    def _with_approval(self, type_: str, reason: str, **fields: Any) -> None:
        """Send; if the ledger says a manager must approve, ask for a PIN and send a new command.

        A refused command keeps its outcome forever (its id is spent), so the
        approved one is a new command with its own id.
        """
        staff = self.app.staff

        def refused(reply: Reply) -> Reply | None:
            if wording.error_code(reply) != "approval_required":
                return None
            from terminal.popups import ApprovalPopup

            def approved(manager: dict[str, Any]) -> None:
                again = PendingCommand.make(
                    type_,
                    staff["id"],
                    check=self.ref,
                    reason=reason,
                    approved_by=manager["id"],
                    **fields,
                )
                self.send(again, _ignore)

            ApprovalPopup(reason=wording.explain(reply), when_approved=approved).open()
            return reply

        pending = PendingCommand.make(type_, staff["id"], check=self.ref, reason=reason, **fields)
        self.send(pending, _ignore, on_refused=refused)

    def void(self) -> None:
        self._line_action(
            "void_item", "Void", ["Changed mind", "Wrong item", "Spilled", "Kitchen error"]
        )

    def comp(self) -> None:
        self._line_action("comp", "Comp", ["Guest complaint", "Long wait", "Staff meal", "VIP"])

    def _line_action(self, type_: str, verb: str, reasons: list[str]) -> None:
        if not self.selected_line:
            self.app.show_info(f"Tap a line first, then {verb}.")
            return
        from terminal.popups import ReasonPopup

        line = self.selected_line
        ReasonPopup(
            title=f"{verb} line {line}: why?",
            reasons=reasons,
            when_reason=lambda why: self._with_approval(type_, why, line=line),
        ).open()

    def reopen(self) -> None:
        from terminal.popups import ReasonPopup

        ReasonPopup(
            title="Reopen this check: why?",
            reasons=["Wrong tender", "Add a tip", "Guest ordered more"],
            when_reason=lambda why: self._with_approval("reopen_check", why),
        ).open()

    def transfer(self) -> None:
        from terminal.popups import TransferPopup

        TransferPopup(catalog=self.app.catalog, when_transfer=self._transfer).open()

    def _transfer(self, to_server: str | None, to_table: str | None) -> None:
        self._simple("transfer_check", to_server=to_server, to_table=to_table)

    def split(self) -> None:
        from terminal.popups import SplitPopup

        lines = self.check.get("lines") or []
        SplitPopup(
            seats=present.seats_of(lines),
            selected_line=self.selected_line,
            when_split=self._split,
        ).open()

    def _split(self, part: dict[str, Any]) -> None:
        # The new check's temporary ID is the device's to make (like open_check's);
        # the part is sent without one for the node to fill in.
        self._simple("split_check", parts=[part])
