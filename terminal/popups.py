"""The dialogs screens open: new check, modifiers, manager approval, a card's approval
code, reasons, transfer, split, receipt, and the status panel behind the dot.
Declarations; looks in popups.kv.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from kivy.animation import Animation
from kivy.app import App
from kivy.clock import Clock
from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import (
    BooleanProperty,
    DictProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.modalview import ModalView

from terminal import present, theme, wording
from terminal.backend import Reply

FLOOR_ROLES = ("server", "bartender", "manager")
ENROL_TTL_S = 600  # s: long enough to unpack and power up a device, short if overheard
QUICK_NOTES = ("No salt", "Allergy: nuts", "Sauce on side", "Rush")


class TerminalPopup(ModalView):  # type: ignore[misc]
    title = StringProperty("")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("auto_dismiss", False)
        super().__init__(**kwargs)
        self.fill()

    def fill(self) -> None:
        """Add the buttons that depend on what the popup was opened with (its ids exist now)."""

    @property
    def app(self) -> Any:
        return App.get_running_app()


class NewCheckPopup(TerminalPopup):
    table = StringProperty("")
    guests = NumericProperty(2)
    when_open = ObjectProperty(None)

    def on_key(self, key: str) -> None:
        if key == "clear":
            self.table = ""
        elif key == "enter":
            self.confirm()
        elif len(self.table) < 4:
            self.table += key

    def confirm(self) -> None:
        if not self.table:
            return
        self.dismiss()
        self.when_open(self.table, int(self.guests))


class ModifierPopup(TerminalPopup):
    item_id = StringProperty("")
    catalog = DictProperty({})
    when_add = ObjectProperty(None)
    qty = NumericProperty(1)
    note = StringProperty("")
    chosen = ListProperty([])

    def fill(self) -> None:
        item = self.catalog["items"][self.item_id]
        site = self.catalog.get("site") or {}
        self.title = item["name"]
        grid = self.ids.modifiers
        for mid in item.get("modifiers") or []:
            mod = self.catalog["modifiers"][mid]
            extra = f"  +{present.money(mod['price'], site)}" if mod.get("price") else ""
            btn = Factory.TToggle(text=f"{mod['name']}{extra}")
            btn.bind(on_release=partial(self._toggle, mid))
            grid.add_widget(btn)
        notes = self.ids.notes
        for text in QUICK_NOTES:
            btn = Factory.TToggle(text=text)
            btn.bind(on_release=partial(self._note, text))
            notes.add_widget(btn)

    def _toggle(self, mid: str, button: Any) -> None:
        chosen = [m for m in self.chosen if m != mid]
        if button.state == "down":
            chosen.append(mid)
        self.chosen = chosen

    def _note(self, text: str, button: Any) -> None:
        # One note at a time (by hand: Kivy's toggle groups trip over discarded popups).
        for other in self.ids.notes.children:
            if other is not button:
                other.state = "normal"
        self.note = text if button.state == "down" else ""

    def confirm(self) -> None:
        self.dismiss()
        self.when_add(list(self.chosen), int(self.qty), self.note)


class ApprovalPopup(TerminalPopup):
    """A manager types their PIN; ``when_approved`` gets ``{id, name, role}`` of the manager."""

    reason = StringProperty("")
    pin = StringProperty("")
    message = StringProperty("Manager PIN")
    busy = BooleanProperty(False)
    shake = NumericProperty(0)
    when_approved = ObjectProperty(None)

    def on_key(self, key: str) -> None:
        if key == "clear":
            self.pin = ""
        elif key == "enter":
            if self.pin and not self.busy:
                self.busy = True
                pin, self.pin = self.pin, ""
                self.app.backend.call("approve", self._answered, pin=pin)
        elif len(self.pin) < 8:
            self.pin += key

    def _answered(self, reply: Reply) -> None:
        self.busy = False
        if not reply.get("ok"):
            self.message = wording.explain(reply)
            anim = Animation(shake=dp(20), d=0.05) + Animation(shake=-dp(20), d=0.05)
            anim += Animation(shake=0, d=0.05)
            anim.start(self)
            return
        self.dismiss()
        self.when_approved(reply["staff"])


class AuthorizationPopup(TerminalPopup):
    """The approval code the card terminal gave, typed on a keypad of digits and letters.

    The code comes from the restaurant's standalone card terminal, never from the
    cloud, so this works the same online and offline. ``when_authorized`` gets the
    code on OK; Cancel calls nothing, so nothing is sent and nothing is recorded.
    """

    tender = StringProperty("")
    detail = StringProperty("")
    code = StringProperty("")
    when_authorized = ObjectProperty(None)

    def fill(self) -> None:
        # Digits, then the letters as on a keyboard: what a server finds fastest.
        rows = ("row_digits", "row_q", "row_a", "row_z")
        for row_id, keys in zip(rows, present.APPROVAL_ROWS, strict=True):
            row = self.ids[row_id]
            for key in keys:
                btn = Factory.TButton(text=key, font_size=theme.FONT_BIG, tone=theme.PANEL)
                btn.bind(on_release=partial(self._key, key))
                row.add_widget(btn)

    def _key(self, key: str, *_args: Any) -> None:
        self.code = present.type_approval(self.code, key)

    def delete(self) -> None:
        self.code = self.code[:-1]

    def confirm(self) -> None:
        if not self.code:
            return
        self.dismiss()
        self.when_authorized(self.code)


class EnrolCodePopup(TerminalPopup):
    """A one-time enrolment code from the leading node, in large type, with its expiry.

    Opened after a manager's PIN. The code is shown once and stored nowhere (the
    node commits only its hash), so closing the popup forgets it; asking again makes
    a new code, which is harmless: each is one-time and expires on its own.
    """

    code = StringProperty("")
    detail = StringProperty("Asking the site for a code…")
    failed = BooleanProperty(False)
    busy = BooleanProperty(False)

    def on_open(self) -> None:
        self.ask()

    def ask(self) -> None:
        if self.busy:
            return
        self.busy, self.failed, self.code = True, False, ""
        self.detail = "Asking the site for a code…"
        self.app.backend.operate("enrol_code", self._answered, ttl_s=ENROL_TTL_S)

    def _answered(self, reply: Reply) -> None:
        self.busy = False
        if not reply.get("ok"):
            self.failed = True
            self.detail = wording.explain(reply)
            return
        self.code = str(reply["code"])
        self.detail = (
            f"{present.expiry_text(reply['expires_ms'], reply['ttl_s'])}. "
            "Type it on the new device's set-up screen. It is shown only once "
            "and works for one device."
        )


class ReasonPopup(TerminalPopup):
    reasons = ListProperty([])
    when_reason = ObjectProperty(None)

    def fill(self) -> None:
        box = self.ids.reasons
        for text in self.reasons:
            btn = Factory.TButton(text=text, tone=theme.PANEL_HI)
            btn.bind(on_release=partial(self._pick, text))
            box.add_widget(btn)

    def _pick(self, text: str, *_args: Any) -> None:
        self.dismiss()
        self.when_reason(text)


class TransferPopup(TerminalPopup):
    catalog = DictProperty({})
    when_transfer = ObjectProperty(None)
    to_server = StringProperty("")
    to_table = StringProperty("")

    def fill(self) -> None:
        box = self.ids.servers
        for sid, member in (self.catalog.get("staff") or {}).items():
            if member.get("role") in FLOOR_ROLES and member.get("active", True):
                btn = Factory.TToggle(text=member["name"])
                btn.bind(on_release=partial(self._server, sid))
                box.add_widget(btn)

    def _server(self, sid: str, button: Any) -> None:
        for other in self.ids.servers.children:
            if other is not button:
                other.state = "normal"
        self.to_server = sid if button.state == "down" else ""

    def on_key(self, key: str) -> None:
        if key == "clear":
            self.to_table = ""
        elif key == "enter":
            self.confirm()
        elif len(self.to_table) < 4:
            self.to_table += key

    def confirm(self) -> None:
        if not (self.to_server or self.to_table):
            return
        self.dismiss()
        self.when_transfer(self.to_server or None, self.to_table or None)


class SplitPopup(TerminalPopup):
    seats = ListProperty([])
    selected_line = StringProperty("")
    when_split = ObjectProperty(None)

    def fill(self) -> None:
        box = self.ids.seat_buttons
        for seat in self.seats:
            btn = Factory.TButton(text=present.seat_label(seat), tone=theme.PANEL_HI)
            btn.bind(on_release=partial(self._seat, seat))
            box.add_widget(btn)

    def _seat(self, seat: int, *_args: Any) -> None:
        self.dismiss()
        self.when_split({"seats": [seat]})

    def by_line(self) -> None:
        if self.selected_line:
            self.dismiss()
            self.when_split({"lines": [self.selected_line]})


class ReceiptPopup(TerminalPopup):
    text = StringProperty("")


class StatusPanel(TerminalPopup):
    """Behind the dot: every device, the leader, voters and learners, what waits to sync,
    the last cloud sync, and the LAN, the cloud and cards each in words.

    Everything comes from this device's node (``status``, ``members``, ``state``);
    the cloud's fields are the leading device's, gossiped to every node.
    """

    dot = StringProperty("starting")
    caption = StringProperty("Loading…")
    device_text = StringProperty("")
    voters_text = StringProperty("")
    lan_text = StringProperty("")
    cloud_text = StringProperty("")
    cards_text = StringProperty("")
    unsynced_text = StringProperty("")
    last_sync_text = StringProperty("")
    members_text = StringProperty("Loading…")

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("auto_dismiss", True)
        super().__init__(**kwargs)

    def on_open(self) -> None:
        self.reload()
        self._poll = Clock.schedule_interval(lambda _dt: self.reload(), 1.0)

    def on_dismiss(self) -> None:
        self._poll.cancel()

    def reload(self) -> None:
        app = self.app
        if app.backend.ready:
            calls: list[tuple[str, dict[str, Any]]] = [
                ("status", {"hash": False}),  # the panel shows no hash; it costs the node
                ("members", {}),
                ("state", {}),
            ]
            app.backend.call_many(calls, self._got)

    def _got(self, replies: list[Reply]) -> None:
        status, members, state = replies
        if not status.get("ok"):
            self.dot, self.caption = "cut_off", wording.explain(status)
            return
        dot = str(status.get("dot"))
        cloud = status.get("cloud") or {}
        leader = status.get("leader") or "none"
        self.dot, self.caption = dot, present.dot_caption(dot, cloud)
        self.device_text = (
            f"{status.get('node')} ({status.get('role')}), leader [b]{leader}[/b], "
            f"term {status.get('term')}, applied index {status.get('applied_index')}"
        )
        self.voters_text = (
            f"{', '.join(status.get('voters') or []) or 'none'};  learners: "
            f"{', '.join(status.get('learners') or []) or 'none'}"
        )
        self.lan_text = present.lan_text(status)
        self.cloud_text = present.cloud_text(cloud)
        self.cards_text = present.cards_text()
        if state.get("ok"):
            self.unsynced_text = present.unsynced_text(
                state.get("unsynced"), state.get("oldest_unsynced_age_ms")
            )
        self.last_sync_text = (
            "—"  # the Cloud row already says there is none
            if cloud.get("cloud") == "none"
            else present.last_sync_text(cloud.get("last_sync_ms"), time.time() * 1000)
        )
        rows = [
            f"{'device':<8}{'kind':<10}{'vote':<9}{'raft':<11}{'link':<13}{'heard':>9}{'applied':>9}"
        ]
        for m in members.get("members") or []:
            heard = m.get("last_heard")
            reach = "reachable" if m.get("reachable") else "UNREACHABLE"
            colour = "7ee2a8" if m.get("reachable") else "ff8080"
            row = (
                f"{m.get('node', ''):<8}{m.get('role') or '?':<10}"
                f"{'voter' if m.get('voter') else 'learner':<9}{m.get('raft_role') or '?':<11}"
                f"[color={colour}]{reach:<13}[/color]"
                f"{f'{heard:.1f} s' if heard is not None else 'never':>9}"
                f"{m.get('applied_index') if m.get('applied_index') is not None else '?':>9}"
            )
            if m.get("node") == leader:
                row = f"[b]{row}[/b]  [color=#ffd27a]LEADER[/color]"
            rows.append(row)
        self.members_text = "\n".join(rows) or "No members known."
