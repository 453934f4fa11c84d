"""One check: its lines by seat and course, the menu, and what a server does to a check.

Every figure on this screen (line amounts, totals, balance) is the ledger's; the
screen only lays them out. A refusal (an 86'd item, a void that needs a manager)
is the ledger's answer, shown in its words.
"""

from __future__ import annotations

from functools import partial
from typing import Any

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

from terminal import present, theme, wording
from terminal.backend import PendingCommand, Reply
from terminal.screens.base import TerminalScreen

MAX_SEATS_SHOWN = 8
COURSES = (1, 2, 3)


def _sized(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each row its height: a line with modifiers or a note takes two lines of text."""
    for row in rows:
        row["height"] = dp(76) if "\n" in row["text"] else dp(52)
    return rows


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
    title = "Check"
    ref = StringProperty("")
    check = DictProperty({})
    rows = ListProperty([])
    category = StringProperty("")
    seat = NumericProperty(1)
    course = NumericProperty(1)
    seats = ListProperty([])
    selected_line = StringProperty("")
    header = StringProperty("")
    totals_text = StringProperty("")
    balance_text = StringProperty("")
    is_open = BooleanProperty(True)
    _loading = False
    _again = False
    _menu_bound = False

    def prepare(self, **kwargs: Any) -> None:
        ref = str(kwargs.get("check", self.ref))
        if ref != self.ref:
            self.ref, self.check, self.rows, self.selected_line = ref, {}, [], ""
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
        if not self.ref or not self.app.backend.ready:
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.app.backend.call("checks", self._got_check, check=self.ref)

    def _got_check(self, reply: Reply) -> None:
        self._loading = False
        self.show(reply)
        if self._again:
            self._again = False
            self.refresh()

    def show(self, reply: Reply) -> None:
        if not reply.get("ok"):
            return
        check = reply["check"]
        site = self.app.site
        self.check = check
        self.is_open = check.get("status") == "open"
        self.rows = _sized(
            present.line_rows(check.get("lines") or [], site, self.selected_line or None)
        )
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
        self.rows = _sized(
            present.line_rows(
                self.check.get("lines") or [], self.app.site, self.selected_line or None
            )
        )

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
            btn = Factory.TButton(text=label, tone=theme.DISABLED if gone else theme.PANEL_HI)
            btn.bind(on_release=partial(self._tap_item, iid))
            grid.add_widget(btn)

    def _pick_category(self, cid: str, *_args: Any) -> None:
        self.category = cid

    def _tap_item(self, item_id: str, *_args: Any) -> None:
        item = (self.app.catalog.get("items") or {}).get(item_id) or {}
        if item.get("modifiers") and item_id not in self.app.eighty_six:
            from terminal.popups import ModifierPopup

            ModifierPopup(
                item_id=item_id,
                catalog=self.app.catalog,
                when_add=lambda mods, qty, note: self.add_item(item_id, mods, qty, note),
            ).open()
            return
        self.add_item(item_id, [], 1, "")

    def add_item(self, item_id: str, modifiers: list[str], qty: int, note: str) -> None:
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
        # The check is read in the same worker hop: the new line shows one frame later.
        self.send(pending, lambda _r: None, then=("checks", {"check": self.ref}), on_then=self.show)

    # -- actions --------------------------------------------------------------
    def _simple(self, type_: str, **fields: Any) -> None:
        pending = PendingCommand.make(type_, self.app.staff["id"], check=self.ref, **fields)
        self.send(pending, lambda _r: None, then=("checks", {"check": self.ref}), on_then=self.show)

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
                self.send(
                    again, lambda _r: None, then=("checks", {"check": self.ref}), on_then=self.show
                )

            ApprovalPopup(reason=wording.explain(reply), when_approved=approved).open()
            return reply

        pending = PendingCommand.make(type_, staff["id"], check=self.ref, reason=reason, **fields)
        self.send(
            pending,
            lambda _r: None,
            on_refused=refused,
            then=("checks", {"check": self.ref}),
            on_then=self.show,
        )

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
