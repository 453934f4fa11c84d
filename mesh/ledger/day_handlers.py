"""Handlers for staff and the business day: time clock, no-sale, open and close the day.

Rules
- A business day exists from its first sale; ``open_day`` only records who opened
  it and when. ``close_day`` needs every check of that day closed, may run with
  the cloud unreachable, and returns the day's summary. After a day is closed,
  new business rolls into the next day (``LedgerState.business_day_of``).
- A day has begun when its calendar start has passed or business (a check or a
  payment) has been filed into it: after an early close, late sales go into the
  next day before its calendar start, and that day must be closable.
- ``close_day`` without a day closes today by the calendar; once today is closed,
  the day sales now go into, if it has business (the manager's tap after the late
  sales). A second tap right after a close is ``conflict``, never an empty future
  day (whose sales would then roll two days ahead). A day not begun cannot be
  closed, nor a past day with no business. ``open_day`` cannot open a day after the
  one sales go into.
- The ``open_day`` and ``close_day`` audit records are filed under the day they
  name, not the day sales go into afterwards.
"""

from __future__ import annotations

from typing import Any

from mesh.ledger.business_day import is_day_name
from mesh.ledger.commands import ClockIn, ClockOut, CloseDay, NoSale, OpenDay
from mesh.ledger.errors import Rejected
from mesh.ledger.queries import day_totals
from mesh.ledger.rules import Ctx, approver, audit, check_label, ensure_day, staff_name
from mesh.ledger.state import LedgerState


def clock_in_handler(ctx: Ctx, cmd: ClockIn) -> dict[str, Any]:
    state = ctx.state
    if cmd.by in state.on_clock:
        raise Rejected("conflict", f"{staff_name(state, cmd.by)} is already clocked in")
    entry_id = state.next_id("time", "T")
    state.time_entries[entry_id] = {
        "id": entry_id,
        "staff": cmd.by,
        "role": ctx.role,
        "clock_in": ctx.now,
        "clock_out": None,
        "business_day": state.business_day_of(ctx.now),
    }
    state.on_clock[cmd.by] = entry_id
    state.touch(f"time:{entry_id}", ctx.now)
    return {"time_entry": entry_id, "staff": cmd.by}


def clock_out_handler(ctx: Ctx, cmd: ClockOut) -> dict[str, Any]:
    state = ctx.state
    entry_id = state.on_clock.get(cmd.by)
    if entry_id is None:
        raise Rejected("conflict", f"{staff_name(state, cmd.by)} is not clocked in")
    entry = state.time_entries[entry_id]
    entry["clock_out"] = ctx.now
    del state.on_clock[cmd.by]
    state.touch(f"time:{entry_id}", ctx.now)
    return {
        "time_entry": entry_id,
        "staff": cmd.by,
        "minutes": (ctx.now - entry["clock_in"]) // 60_000,
    }


def no_sale_handler(ctx: Ctx, cmd: NoSale) -> dict[str, Any]:
    approved = approver(ctx, cmd.by, cmd.approved_by, "open the drawer without a sale")
    rec = audit(ctx, action="no_sale", by=cmd.by, approved_by=approved, detail=cmd.reason)
    return {"audit": rec["seq"]}


def _day(ctx: Ctx, given: str | None) -> str:
    if given is None:
        return ctx.state.business_day_of(ctx.now)
    if not is_day_name(given):
        raise Rejected("invalid", f"'{given}' is not a day (YYYY-MM-DD)")
    return given


def open_day_handler(ctx: Ctx, cmd: OpenDay) -> dict[str, Any]:
    state = ctx.state
    day = _day(ctx, cmd.day)
    if day > state.business_day_of(ctx.now):
        raise Rejected("invalid", f"business day {day} has not started yet")
    rec = state.days.get(day)
    if rec is not None and rec["status"] == "closed":
        raise Rejected("conflict", f"business day {day} is closed")
    if rec is not None and rec["opened_at"] is not None:
        raise Rejected("conflict", f"business day {day} is already open")
    ensure_day(state, day)
    state.days[day]["opened_at"] = ctx.now
    state.days[day]["opened_by"] = cmd.by
    audit(ctx, action="open_day", by=cmd.by, detail=day, business_day=day)
    state.touch(f"day:{day}", ctx.now)
    return {"day": day, "status": "open"}


def _has_business(state: LedgerState, day: str) -> bool:
    """Whether a check or a payment has been filed into ``day``."""
    for check in state.checks.values():
        if check["business_day"] == day:
            return True
        if any(p["business_day"] == day for p in check["payments"]):
            return True
    return False


def _day_to_close(ctx: Ctx, given: str | None) -> str:
    """The day ``close_day`` means, refusing one that has not begun (see Rules)."""
    state = ctx.state
    today = state.calendar_day_of(ctx.now)
    if given is None:
        rec = state.days.get(today)
        if rec is None or rec["status"] != "closed":
            return today
        # Today was closed early. A tap after late sales closes the day they went
        # into; a tap with nothing sold since is the double tap: it must not close an
        # empty future day, so it names the day already closed.
        selling = state.business_day_of(ctx.now)
        if _has_business(state, selling):
            return selling
        latest = max(d for d, r in state.days.items() if r["status"] == "closed" and d < selling)
        raise Rejected("conflict", f"business day {latest} is already closed")
    day = _day(ctx, given)
    if day > today and not _has_business(state, day):
        raise Rejected("invalid", f"business day {day} has not started yet")
    return day


def close_day_handler(ctx: Ctx, cmd: CloseDay) -> dict[str, Any]:
    state = ctx.state
    day = _day_to_close(ctx, cmd.day)
    rec = state.days.get(day)
    if rec is not None and rec["status"] == "closed":
        raise Rejected("conflict", f"business day {day} is already closed")
    if rec is None and day < state.calendar_day_of(ctx.now):
        raise Rejected("not_found", f"nothing was sold on {day}: there is no such day to close")
    # In the order they were opened (as the rail shows them), not as text ("#25"
    # before "#3"): the oldest open check is the one a manager looks for first.
    still_open = [
        check_label(c)
        for c in state.checks.values()
        if c["business_day"] == day and c["status"] == "open"
    ]
    if still_open:
        shown = ", ".join(still_open[:5]) + (" ..." if len(still_open) > 5 else "")
        count = f"{len(still_open)} checks are" if len(still_open) > 1 else "1 check is"
        raise Rejected("open_checks", f"{count} still open for {day}: {shown}")
    ensure_day(state, day)
    state.days[day]["status"] = "closed"
    state.days[day]["closed_at"] = ctx.now
    state.days[day]["closed_by"] = cmd.by
    audit(ctx, action="close_day", by=cmd.by, detail=day, business_day=day)
    state.touch(f"day:{day}", ctx.now)
    return {"day": day, "status": "closed", "totals": day_totals(state, day)}
