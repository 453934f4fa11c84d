"""Kitchen tickets: made by ``fire``, routed by station, bumped and recalled on the KDS.

Rules
- Firing sends each unfired line once: it becomes ``fired`` and appears on one
  ticket of its station plus the expo ticket of the same fire. A line is never
  fired again, so no line is on two ordinary tickets of one station.
- A refire cooks fired lines again (dropped, sent back): new tickets, one per
  station plus expo, marked ``refire`` with the original tickets and the reason.
  Voided, unfired and unknown lines, and lines of a closed check, are refused.
- Ticket items go ``new -> bumped`` (done) or ``-> voided`` (shown struck through).
- A ticket is bumped when it is bumped whole, or when its last ``new`` item is.
- A bumped ticket can be recalled for ``RECALL_WINDOW_MS``; its bumped items come
  back as ``new``.
"""

from __future__ import annotations

from typing import Any

from mesh.ledger.catalog import expo_station
from mesh.ledger.commands import Bump, EightySix, Recall, Refire
from mesh.ledger.errors import Rejected
from mesh.ledger.records import CheckRec, LineRec, TicketItemRec, TicketRec
from mesh.ledger.rules import RECALL_WINDOW_MS, Ctx, audit, get_line, open_check
from mesh.ledger.state import LedgerState

# Rules: the item transitions a bump may make.
BUMP_FROM: dict[str, str] = {"new": "bumped"}


def _item(line: LineRec) -> TicketItemRec:
    return {
        "line": line["id"],
        "item": line["item"],
        "name": line["name"],
        "qty": line["qty"],
        "modifiers": [m["name"] for m in line["modifiers"]],
        "note": line["note"],
        "seat": line["seat"],
        "course": line["course"],
        "state": "new",
    }


def _route(ctx: Ctx, check: CheckRec, lines: list[LineRec], course: int | None) -> list[TicketRec]:
    """One new ticket per station for ``lines`` (station order by id), then the expo ticket."""
    state = ctx.state
    assert state.catalog is not None
    by_station: dict[str, list[LineRec]] = {}
    for line in lines:
        by_station.setdefault(line["station"], []).append(line)
    expo = expo_station(state.catalog)
    routes = [(station, by_station[station]) for station in sorted(by_station)]
    if expo is not None:
        routes.append((expo, lines))
    made = []
    for station, station_lines in routes:
        ticket: TicketRec = {
            "id": state.next_id("ticket", "K"),
            "check": check["id"],
            "table": check["table"],
            "server": check["server"],
            "station": station,
            "course": course,
            "status": "open",
            "created_at": ctx.now,
            "bumped_at": None,
            "items": [_item(line) for line in station_lines],
        }
        state.tickets[ticket["id"]] = ticket
        made.append(ticket)
    return made


def make_tickets(
    ctx: Ctx, check: CheckRec, lines: list[LineRec], course: int | None
) -> list[TicketRec]:
    """Fire ``lines``: one ticket per station (station order by id), then the expo ticket."""
    made = _route(ctx, check, lines, course)
    for ticket in made:
        for item in ticket["items"]:
            _line_by_id(lines, item["line"])["tickets"].append(ticket["id"])
    for line in lines:
        line["status"] = "fired"
        line["fired_at"] = ctx.now
    return made


def _line_by_id(lines: list[LineRec], line_id: str) -> LineRec:
    return next(line for line in lines if line["id"] == line_id)


def _ticket_number(ticket_id: str) -> int:
    return int(ticket_id[1:])


def refire_handler(ctx: Ctx, cmd: Refire) -> dict[str, Any]:
    state = ctx.state
    check = open_check(state, cmd.check)
    lines = [get_line(check, line_id) for line_id in cmd.lines]
    for line in lines:
        if line["status"] == "voided":
            raise Rejected(
                "conflict", f"line {line['id']} ('{line['name']}') is voided: nothing to refire"
            )
        if line["status"] != "fired":
            raise Rejected(
                "conflict",
                f"line {line['id']} ('{line['name']}') has not been fired yet: fire it instead",
            )
    # The originals per station, read before the new tickets join the lines' lists.
    originals: dict[str, set[str]] = {}
    for line in lines:
        for ticket_id in line["tickets"]:
            ticket = state.tickets[ticket_id]
            if not ticket.get("refire"):
                originals.setdefault(ticket["station"], set()).add(ticket_id)
    # Lines in check order, as a fire lists them, whatever order the command named them in.
    wanted = set(cmd.lines)
    ordered = [line for line in check["lines"] if line["id"] in wanted]
    made = _route(ctx, check, ordered, None)
    for ticket in made:
        ticket["refire"] = True
        ticket["refire_of"] = sorted(originals.get(ticket["station"], ()), key=_ticket_number)
        ticket["refire_reason"] = cmd.reason
        for item in ticket["items"]:
            _line_by_id(ordered, item["line"])["tickets"].append(ticket["id"])
    names = ", ".join(f"{line['qty']} x {line['name']} ({line['id']})" for line in ordered)
    audit(ctx, action="refire", by=cmd.by, check=check["id"], detail=f"{names}: {cmd.reason}")
    state.touch(f"check:{check['id']}", ctx.now)  # the lines list their new tickets
    return {
        "check": check["id"],
        "lines": [line["id"] for line in ordered],
        "tickets": [t["id"] for t in made],
    }


def strike_line_on_tickets(state: LedgerState, line: LineRec) -> None:
    for ticket_id in line["tickets"]:
        for item in state.tickets[ticket_id]["items"]:
            if item["line"] == line["id"]:
                item["state"] = "voided"


def _get_ticket(state: LedgerState, ticket_id: str) -> TicketRec:
    ticket = state.tickets.get(ticket_id)
    if ticket is None:
        raise Rejected("not_found", f"no ticket {ticket_id}")
    return ticket


def bump_handler(ctx: Ctx, cmd: Bump) -> dict[str, Any]:
    ticket = _get_ticket(ctx.state, cmd.ticket)
    if ticket["status"] == "bumped":
        raise Rejected("conflict", f"ticket {ticket['id']} is already bumped")
    if cmd.line is None:
        targets = [item for item in ticket["items"] if item["state"] in BUMP_FROM]
    else:
        found = [item for item in ticket["items"] if item["line"] == cmd.line]
        if not found:
            raise Rejected("not_found", f"no line {cmd.line} on ticket {ticket['id']}")
        if found[0]["state"] not in BUMP_FROM:
            raise Rejected(
                "conflict", f"'{found[0]['name']}' on ticket {ticket['id']} is {found[0]['state']}"
            )
        targets = found
    for item in targets:
        item["state"] = BUMP_FROM[item["state"]]
    if all(item["state"] not in BUMP_FROM for item in ticket["items"]):
        ticket["status"] = "bumped"
        ticket["bumped_at"] = ctx.now
    return {"ticket": ticket["id"], "status": ticket["status"]}


def recall_handler(ctx: Ctx, cmd: Recall) -> dict[str, Any]:
    ticket = _get_ticket(ctx.state, cmd.ticket)
    if ticket["status"] != "bumped" or ticket["bumped_at"] is None:
        raise Rejected("conflict", f"ticket {ticket['id']} is not bumped")
    if ctx.now - ticket["bumped_at"] > RECALL_WINDOW_MS:
        minutes = RECALL_WINDOW_MS // 60_000
        raise Rejected(
            "conflict", f"ticket {ticket['id']} was bumped more than {minutes} minutes ago"
        )
    ticket["status"] = "open"
    ticket["bumped_at"] = None
    for item in ticket["items"]:
        if item["state"] == "bumped":
            item["state"] = "new"
    return {"ticket": ticket["id"], "status": ticket["status"]}


def eighty_six_handler(ctx: Ctx, cmd: EightySix) -> dict[str, Any]:
    state = ctx.state
    assert state.catalog is not None
    item = state.catalog["items"].get(cmd.item)
    if item is None:
        raise Rejected("not_found", f"no menu item '{cmd.item}'")
    is_out = cmd.item in state.eighty_six
    if is_out != cmd.available:
        state_word = "available" if cmd.available else "86'd"
        raise Rejected("conflict", f"item '{item['name']}' is already {state_word}")
    if cmd.available:
        del state.eighty_six[cmd.item]
    else:
        state.eighty_six[cmd.item] = ctx.now
    audit(
        ctx,
        action="eighty_six",
        by=cmd.by,
        detail=f"'{item['name']}' {'back on' if cmd.available else '86d'}",
    )
    return {"item": cmd.item, "available": cmd.available}
