"""Take money: cash with a keypad and quick amounts, custom tenders, partial payments and tips.

The change due and the balance are the ledger's answers. A tender the catalog
marks ``requires_cloud`` (card, gift card, house account) is taken on the
restaurant's standalone card terminal: tapping it asks for that terminal's
approval code, sent as the payment's ``authorization``. The code does not come
from the cloud, so this works the same online and offline.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kivy.properties import BooleanProperty, DictProperty, ListProperty, StringProperty

from terminal import present, wording
from terminal.backend import PendingCommand, Reply
from terminal.screens.base import TerminalScreen

DIGITS_MAX = 9


class PayScreen(TerminalScreen):
    title = "Pay"
    ref = StringProperty("")
    check = DictProperty({})
    entry = StringProperty("")  # keyed in minor units, like a till
    tip = StringProperty("")
    editing = StringProperty("amount")  # which field the keypad types into
    partial = BooleanProperty(False)
    balance_text = StringProperty("")
    change_text = StringProperty("")
    result_text = StringProperty("")
    quick = ListProperty([])
    tenders = ListProperty([])
    settled = BooleanProperty(False)
    busy = BooleanProperty(False)
    _pending: PendingCommand | None = None

    def prepare(self, **kwargs: Any) -> None:
        ref = str(kwargs.get("check", self.ref))
        if ref != self.ref:
            self.ref, self.check = ref, {}
            self.entry = self.tip = ""
            self.change_text = self.result_text = ""
            self.partial = self.settled = False
            self._pending = None
        self.editing = "amount"

    def refresh(self) -> None:
        if self.ref and self.app.backend.ready:
            self.app.backend.call("checks", self._got_check, check=self.ref)

    def _got_check(self, reply: Reply) -> None:
        if not reply.get("ok"):
            return
        check = reply["check"]
        site = self.app.site
        self.check = check
        balance = int((check.get("totals") or {}).get("balance", 0))
        self.balance_text = present.money(balance, site)
        self.settled = balance == 0 and check.get("status") == "open"
        self.quick = [
            {"amount": a, "label": "Exact" if a == balance else present.money(a, site)}
            for a in present.quick_cash(balance, site)
        ]
        tenders = []
        # Cash first, then the house's own tenders, then the ones taken on the card terminal.
        order = sorted(
            (self.app.catalog.get("tenders") or {}).items(),
            key=lambda kv: (kv[1].get("kind") != "cash", bool(kv[1].get("requires_cloud")), kv[0]),
        )
        for tid, tender in order:
            tenders.append(
                {
                    "id": tid,
                    "label": tender["name"],
                    "cash": tender.get("kind") == "cash",
                    "authorized": bool(tender.get("requires_cloud")),
                }
            )
        self.tenders = tenders
        self._build_buttons()

    def _build_buttons(self) -> None:
        from kivy.factory import Factory

        from terminal import theme

        box = self.ids.quick
        box.clear_widgets()
        for q in self.quick:
            btn = Factory.TButton(text=q["label"], tone=theme.PANEL_HI)
            btn.bind(on_release=partial(self._set_amount, q["amount"]))
            box.add_widget(btn)
        grid = self.ids.tenders
        grid.clear_widgets()
        for t in self.tenders:
            btn = Factory.TButton(text=t["label"], tone=theme.OK if t["cash"] else theme.PRIMARY)
            tap = self._ask_authorization if t["authorized"] else self._tender
            btn.bind(on_release=partial(tap, t["id"], t["cash"]))
            grid.add_widget(btn)

    # -- keying ---------------------------------------------------------------
    def amount_text(self, digits: str) -> str:
        return present.money(present.parse_keyed_amount(digits), self.app.site)

    def on_key(self, key: str) -> None:
        field = "tip" if self.editing == "tip" else "entry"
        value = getattr(self, field)
        if key == "clear":
            value = ""
        elif key == "enter":
            self._tender("cash", True)
            return
        elif len(value) < DIGITS_MAX:
            value = (value + key).lstrip("0")
        setattr(self, field, value)

    def _set_amount(self, amount: int, *_args: Any) -> None:
        self.entry = str(amount)
        self.editing = "amount"

    # -- paying ---------------------------------------------------------------
    def _ask_authorization(self, tender: str, cash: bool, *_args: Any) -> None:
        """Ask for the card terminal's approval code; pay with it on OK, nothing on Cancel."""
        if self.busy:
            return
        from terminal.popups import AuthorizationPopup

        site = self.app.site
        keyed = present.parse_keyed_amount(self.entry)
        tip = present.parse_keyed_amount(self.tip)
        balance = int((self.check.get("totals") or {}).get("balance", 0))
        amount = keyed if self.partial and keyed else balance
        detail = f"Take {present.money(amount, site)}" + (
            f" + tip {present.money(tip, site)}" if tip else ""
        )
        name = str(((self.app.catalog.get("tenders") or {}).get(tender) or {}).get("name", tender))
        AuthorizationPopup(
            tender=name,
            detail=f"{detail} on the card terminal, then type the approval code it gives.",
            when_authorized=partial(self._authorized, tender, cash),
        ).open()

    def _authorized(self, tender: str, cash: bool, code: str) -> None:
        self._tender(tender, cash, authorization=code)

    def _tender(
        self, tender: str, cash: bool, *_args: Any, authorization: str | None = None
    ) -> None:
        if self.busy:
            return
        keyed = present.parse_keyed_amount(self.entry)
        tip = present.parse_keyed_amount(self.tip)
        fields: dict[str, Any] = {"tender": tender, "tip": tip or None}
        if authorization:
            fields["authorization"] = authorization
        # Partial: the keyed amount is what this payment covers. Otherwise the payment
        # covers the whole balance and, for cash, the keyed amount is what was handed over.
        if self.partial and keyed:
            fields["amount"] = keyed
        elif cash and keyed:
            fields["tendered"] = keyed
        pending = PendingCommand.make("pay", self.app.staff["id"], check=self.ref, **fields)
        self._send_payment(pending)

    def _send_payment(self, pending: PendingCommand) -> None:
        self._pending = pending
        self.busy = True
        self.result_text = "Sending…"

        def paid(reply: Reply) -> None:
            self.busy = False
            self._pending = None
            out = reply.get("outcome") or {}
            site = self.app.site
            code = pending.command.get("authorization")
            # A card gives no change: the big Change box is for cash handed over.
            self.change_text = "" if code else present.money(int(out.get("change") or 0), site)
            self.result_text = (
                f"Paid {present.money(int(out.get('amount', 0)), site)}"
                + (f" + tip {present.money(int(out['tip']), site)}" if out.get("tip") else "")
                + (f", approval {code}" if code else "")
                + f". Balance {present.money(int(out.get('balance', 0)), site)}"
                + (" (duplicate tap ignored)" if reply.get("duplicate") else "")
            )
            self.entry = self.tip = ""
            self.partial = False
            # Back to the amount: after a tipped payment the next digits are the next
            # payment's amount, not another tip.
            self.editing = "amount"
            self.refresh()

        def refused(reply: Reply) -> Reply | None:
            self.busy = False
            if wording.is_retryable(reply):
                self.result_text = "Not confirmed: tap Retry (it will only be taken once)."
                return None  # the app bar offers Retry with the same command
            self._pending = None
            self.result_text = wording.explain(reply)
            return None

        self.send(pending, paid, on_refused=refused)

    def close(self) -> None:
        pending = PendingCommand.make("close_check", self.app.staff["id"], check=self.ref)

        def closed(_reply: Reply) -> None:
            self.ref = ""
            self.app.go("floor")

        self.send(pending, closed)
