"""The floor: every open check at a glance, coloured by stage; mine or all; open a new one."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, ListProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from terminal import present, theme
from terminal.backend import PendingCommand, Reply
from terminal.screens.base import TerminalScreen


class CheckTile(ButtonBehavior, BoxLayout):  # type: ignore[misc]
    check_id = StringProperty("")
    table = StringProperty("")
    label = StringProperty("")
    detail = StringProperty("")
    amount = StringProperty("")
    synced_mark = StringProperty("")
    tone = ListProperty(theme.STAGE["open"])

    def on_release(self) -> None:
        from kivy.app import App

        App.get_running_app().go("check", check=self.check_id)


class FloorScreen(TerminalScreen):
    title = "Floor"
    mine_only = BooleanProperty(True)
    closed = BooleanProperty(False)  # today's closed checks (to reprint or reopen one)
    tiles = ListProperty([])
    summary = StringProperty("")
    _loading = False
    _again = False

    def refresh(self) -> None:
        if not self.app.staff or not self.app.backend.ready:
            return
        if self._loading:  # a refresh is on its way: one more after it, not one per change
            self._again = True
            return
        self._loading = True
        args: dict[str, Any] = {"server": self.app.staff["id"]} if self.mine_only else {}
        if self.closed:
            args = {"all": True}
        self.app.backend.call("checks", self._got_checks, **args)

    def on_mine_only(self, *_args: Any) -> None:
        self.refresh()

    def on_closed(self, *_args: Any) -> None:
        self.refresh()

    def _got_checks(self, reply: Reply) -> None:
        if not reply.get("ok"):
            self._done()
            return
        checks = reply.get("checks") or []
        if self.closed:  # the newest closed checks first, a screenful
            checks = [c for c in checks if c.get("status") == "closed"]
            checks = sorted(checks, key=lambda c: c.get("closed_at") or 0, reverse=True)[:24]
        calls = [("checks", {"check": c["id"]}) for c in checks]
        if not calls:
            self._show([])
            return
        self.app.backend.call_many(
            calls, lambda replies: self._show([r["check"] for r in replies if r.get("ok")])
        )

    def _show(self, checks: list[dict[str, Any]]) -> None:
        app = self.app
        tiles = []
        if not self.closed:
            checks = sorted(checks, key=lambda c: (str(c.get("table")), c.get("opened_at", 0)))
        for check in checks:
            stage = present.check_stage(check)
            server = present.staff_name(check.get("server"), app.catalog)
            tiles.append(
                {
                    "check_id": check["id"],
                    "table": f"Table {check.get('table')}",
                    "label": present.check_label(check),
                    "synced_mark": "not synced" if present.not_synced(check) else "",
                    "detail": f"{server} · {check.get('guests')} guests · {stage}",
                    "amount": present.money(int(check.get("total", 0)), app.site) + " paid"
                    if stage == present.STAGE_CLOSED
                    else present.money(int(check.get("balance", 0)), app.site) + " due",
                    "tone": list(theme.STAGE[stage]),
                }
            )
        self.tiles = tiles
        kind = "closed" if self.closed else "open"
        whose = "" if self.closed else (" (mine)" if self.mine_only else " (everyone's)")
        self.summary = f"{len(tiles)} {kind} check{'s' if len(tiles) != 1 else ''}{whose}"
        self._done()

    def _done(self) -> None:
        self._loading = False
        if self._again:
            self._again = False
            self.refresh()

    def new_check(self) -> None:
        from terminal.popups import NewCheckPopup

        NewCheckPopup(when_open=self.open_check).open()

    def open_check(self, table: str, guests: int) -> None:
        staff = self.app.staff
        pending = PendingCommand.make(
            "open_check", staff["id"], table=table, guests=guests, server=staff["id"]
        )
        self.send(pending, lambda reply: self.app.go("check", check=reply["outcome"]["check"]))

    def open_manager(self) -> None:
        staff = self.app.staff
        if staff.get("role") == "manager":
            self.app.go("manager", manager=dict(staff))
            return
        from terminal.popups import ApprovalPopup

        ApprovalPopup(
            reason="Manager screen",
            when_approved=lambda mgr: self.app.go("manager", manager=mgr),
        ).open()
