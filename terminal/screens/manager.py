"""The manager's screen: the day so far, approvals given, who is clocked in, close the day,
and a one-time code to enrol a new device.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, StringProperty

from terminal import present
from terminal.backend import PendingCommand, Reply
from terminal.screens.base import TerminalScreen


def _audit_line(entry: dict[str, Any], catalog: dict[str, Any]) -> str:
    line = (
        f"{entry.get('action')}: {entry.get('detail', '')}  "
        f"by {present.staff_name(entry.get('by'), catalog)}"
    )
    if entry.get("approved_by"):
        line += f", approved by {present.staff_name(entry['approved_by'], catalog)}"
    return line


class ManagerScreen(TerminalScreen):
    title = "Manager"
    approver = DictProperty({})
    approver_name = StringProperty("")
    summary_text = StringProperty("")
    approvals_text = StringProperty("")
    clocked_text = StringProperty("")
    result_text = StringProperty("")

    def prepare(self, **kwargs: Any) -> None:
        if "manager" in kwargs:
            self.approver = dict(kwargs["manager"])
            self.approver_name = str(self.approver.get("name", ""))
        self.result_text = ""

    def refresh(self) -> None:
        if not self.app.backend.ready:
            return
        calls = [
            ("query", {"name": "day_summary"}),
            ("query", {"name": "audit"}),
            ("query", {"name": "clocked_in"}),
        ]
        self.app.backend.call_many(calls, self._got)

    def _got(self, replies: list[Reply]) -> None:
        summary, audit, clocked = replies
        site, catalog = self.app.site, self.app.catalog

        def m(v: Any) -> str:
            return present.money(int(v or 0), site)

        if summary.get("ok"):
            s = summary["summary"]
            names = catalog.get("tenders") or {}
            tenders = "   ".join(
                f"{names.get(t, {}).get('name', t)} {m(v['amount'])} ({v['count']})"
                for t, v in (s.get("by_tender") or {}).items()
            )
            self.summary_text = (
                f"[b]Business day {s.get('day')}[/b]  ({s.get('status')})\n"
                f"Checks {s.get('checks')}, still open {s.get('open_checks')}\n"
                f"Sales {m(s.get('sales'))}   Tax {m(s.get('tax'))}   Tips {m(s.get('tips'))}\n"
                f"Voids {m(s.get('voids'))} ({s.get('void_count')})   "
                f"Comps {m(s.get('comps'))} ({s.get('comp_count')})   "
                f"No sales {s.get('no_sales')}\n"
                f"{tenders or 'No payments yet'}\n"
                f"Not yet synced to the cloud: {s.get('unsynced')} "
                f"(oldest {present.age_text(s.get('oldest_unsynced_age_ms'))})"
            )
        if audit.get("ok"):
            audited = {"void_item", "comp", "reopen_check", "no_sale", "close_day"}
            rows = [a for a in audit["audit"] if a.get("approved_by") or a.get("action") in audited]
            self.approvals_text = "\n".join(_audit_line(a, catalog) for a in rows[-12:]) or (
                "No approvals today."
            )
        if clocked.get("ok"):
            self.clocked_text = (
                ", ".join(present.staff_name(c.get("staff"), catalog) for c in clocked["staff"])
                or "Nobody is clocked in."
            )

    def enrol_device(self) -> None:
        """A one-time code for a new device, after a manager's PIN (again: it adds a device)."""
        from terminal.popups import ApprovalPopup, EnrolCodePopup

        ApprovalPopup(
            reason="Enrol a device: a code that lets a new device join this site",
            when_approved=lambda _manager: EnrolCodePopup().open(),
        ).open()

    def close_day(self) -> None:
        pending = PendingCommand.make("close_day", self.approver.get("id") or self.app.staff["id"])

        def closed(reply: Reply) -> None:
            out = reply.get("outcome") or {}
            self.result_text = f"Day {out.get('day')} is closed. New sales go to the next day."

        self.send(pending, closed)
