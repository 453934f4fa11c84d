"""Handlers for the commands that change checks: open, order, void, fire, pay, close...

Each handler first validates everything (raising ``Rejected``) and only then
mutates, so a rejected command leaves the state exactly as it was.
"""

from __future__ import annotations

import re
from typing import Any

from mesh.ledger.catalog import tender_requires_cloud
from mesh.ledger.check_ids import is_valid_temp_id
from mesh.ledger.commands import (
    MAX_CHECK_LIST,
    AddItems,
    AttachLoyalty,
    CloseCheck,
    Comp,
    Fire,
    HoldCourse,
    OpenCheck,
    Pay,
    ReopenCheck,
    SplitCheck,
    TransferCheck,
    VoidItem,
)
from mesh.ledger.errors import Rejected
from mesh.ledger.kitchen_handlers import make_tickets, strike_line_on_tickets
from mesh.ledger.money import check_totals, line_amount, line_tax
from mesh.ledger.records import CheckRec, LineRec, ModifierRec, PaymentRec
from mesh.ledger.rules import (
    FLOOR,
    Ctx,
    approver,
    audit,
    check_label,
    ensure_day,
    get_check,
    get_line,
    money,
    open_check,
    role_of,
    staff_name,
)

_PHONE_CHARS = re.compile(r"[\s()+.\-]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _touch(ctx: Ctx, check: CheckRec) -> None:
    ctx.state.touch(f"check:{check['id']}", ctx.now)


def _summary(check: CheckRec) -> dict[str, Any]:
    totals = check_totals(check)
    return {"check": check["id"], "total": totals.total, "balance": totals.balance}


def _floor_staff(ctx: Ctx, staff_id: str) -> None:
    if role_of(ctx.state, staff_id) not in FLOOR:
        raise Rejected("invalid", f"{staff_name(ctx.state, staff_id)} does not take tables")


def _new_check(
    ctx: Ctx, *, check_id: str, table: str, guests: int, server: str, by: str, day: str
) -> CheckRec:
    return {
        "id": check_id,
        "number": None,
        "table": table,
        "guests": guests,
        "server": server,
        "status": "open",
        "business_day": day,
        "opened_at": ctx.now,
        "opened_by": by,
        "closed_at": None,
        "held_courses": [],
        "lines": [],
        "payments": [],
        "loyalty": None,
        "split_from": None,
    }


def open_check_handler(ctx: Ctx, cmd: OpenCheck) -> dict[str, Any]:
    state = ctx.state
    if not is_valid_temp_id(cmd.check):
        raise Rejected("invalid", f"'{cmd.check}' is not a valid temporary check ID")
    if cmd.check in state.checks:
        raise Rejected("conflict", f"check {cmd.check} already exists")
    server = cmd.server or cmd.by
    _floor_staff(ctx, server)
    day = state.business_day_of(ctx.now)
    ensure_day(state, day)
    check = _new_check(
        ctx,
        check_id=cmd.check,
        table=cmd.table,
        guests=cmd.guests,
        server=server,
        by=cmd.by,
        day=day,
    )
    state.checks[cmd.check] = check
    _touch(ctx, check)
    return {"check": cmd.check, "business_day": day}


def _refuse_too_many(check: CheckRec, what: str, have: int, adding: int) -> None:
    """A check the cloud would refuse would hold up every later check's sync."""
    if have + adding > MAX_CHECK_LIST:
        raise Rejected(
            "invalid",
            f"check {check['id']} can hold at most {MAX_CHECK_LIST} {what} "
            f"(it has {have}): open another check",
        )


def add_items_handler(ctx: Ctx, cmd: AddItems) -> dict[str, Any]:
    state = ctx.state
    check = open_check(state, cmd.check)
    if not cmd.items:
        raise Rejected("invalid", "add_items: 'items' must not be empty")
    _refuse_too_many(check, "lines", len(check["lines"]), len(cmd.items))
    assert state.catalog is not None  # role_of has required it
    catalog = state.catalog
    new_lines: list[LineRec] = []
    for order in cmd.items:
        item = catalog["items"].get(order.item)
        if item is None:
            raise Rejected("not_found", f"no menu item '{order.item}'")
        if order.item in state.eighty_six:
            raise Rejected("item_86d", f"item '{item['name']}' is 86'd")
        mods: list[ModifierRec] = []
        for mod_id in order.modifiers:
            if mod_id not in item.get("modifiers", []):
                raise Rejected("invalid", f"modifier '{mod_id}' does not go with '{item['name']}'")
            mod = catalog["modifiers"][mod_id]
            mods.append({"id": mod_id, "name": mod["name"], "price": mod["price"]})
        tax = catalog["taxes"].get(item["tax"]) if item.get("tax") else None
        new_lines.append(
            {
                "id": "",  # numbered below, once the whole command is known to be valid
                "item": order.item,
                "name": item["name"],
                "qty": order.qty,
                "unit_price": item["price"] + sum(m["price"] for m in mods),
                "modifiers": mods,
                "seat": order.seat,
                "course": order.course,
                "note": order.note,
                "station": item["station"],
                "tax": item.get("tax") if tax else None,
                "tax_rate_bp": tax["rate_bp"] if tax else 0,
                "tax_inclusive": tax["inclusive"] if tax else False,
                "status": "new",
                "added_at": ctx.now,
                "added_by": cmd.by,
                "fired_at": None,
                "tickets": [],
                "void": None,
                "comp": None,
            }
        )
    for line in new_lines:
        line["id"] = state.next_id("line", "L")
        check["lines"].append(line)
    _touch(ctx, check)
    return {**_summary(check), "lines": [line["id"] for line in new_lines]}


def _contribution(line: LineRec) -> int:
    """How much the line adds to the check's total right now."""
    if line["status"] == "voided" or line["comp"] is not None:
        return 0
    return line_amount(line) + line_tax(line)[0]


def _refuse_overpaid(ctx: Ctx, check: CheckRec, line: LineRec, verb: str) -> None:
    totals = check_totals(check)
    after = totals.total - _contribution(line)
    if after < totals.paid:
        raise Rejected(
            "conflict",
            f"{verb} '{line['name']}' would leave check {check_label(check)} overpaid by "
            f"{money(ctx.state, totals.paid - after)}",
        )


def void_item_handler(ctx: Ctx, cmd: VoidItem) -> dict[str, Any]:
    check = open_check(ctx.state, cmd.check)
    line = get_line(check, cmd.line)
    if line["status"] == "voided":
        raise Rejected("conflict", f"line {line['id']} ('{line['name']}') is already voided")
    approved = None
    if line["status"] == "fired":
        approved = approver(ctx, cmd.by, cmd.approved_by, "void a fired item")
    _refuse_overpaid(ctx, check, line, "voiding")
    amount = line_amount(line)
    line["status"] = "voided"
    line["void"] = {"reason": cmd.reason, "by": cmd.by, "approved_by": approved, "at": ctx.now}
    strike_line_on_tickets(ctx.state, line)
    audit(
        ctx,
        action="void_item",
        by=cmd.by,
        approved_by=approved,
        check=check["id"],
        detail=f"{line['qty']} x {line['name']} ({line['id']}): {cmd.reason}",
        amount=amount,
    )
    _touch(ctx, check)
    return _summary(check)


def fire_handler(ctx: Ctx, cmd: Fire) -> dict[str, Any]:
    check = open_check(ctx.state, cmd.check)
    if cmd.course is None:
        lines = [
            line
            for line in check["lines"]
            if line["status"] == "new" and line["course"] not in check["held_courses"]
        ]
    else:
        lines = [
            line
            for line in check["lines"]
            if line["status"] == "new" and line["course"] == cmd.course
        ]
    if not lines:
        what = f"course {cmd.course}" if cmd.course is not None else "unfired, unheld items"
        raise Rejected("conflict", f"nothing to fire on check {check_label(check)} ({what})")
    if cmd.course is not None and cmd.course in check["held_courses"]:
        check["held_courses"].remove(cmd.course)
    tickets = make_tickets(ctx, check, lines, cmd.course)
    _touch(ctx, check)
    return {
        "check": check["id"],
        "lines": [line["id"] for line in lines],
        "tickets": [t["id"] for t in tickets],
    }


def hold_course_handler(ctx: Ctx, cmd: HoldCourse) -> dict[str, Any]:
    check = open_check(ctx.state, cmd.check)
    if cmd.course in check["held_courses"]:
        raise Rejected("conflict", f"course {cmd.course} is already held")
    check["held_courses"] = sorted([*check["held_courses"], cmd.course])
    _touch(ctx, check)
    return {"check": check["id"], "held_courses": list(check["held_courses"])}


def pay_handler(ctx: Ctx, cmd: Pay) -> dict[str, Any]:
    state = ctx.state
    check = open_check(state, cmd.check)
    _refuse_too_many(check, "payments", len(check["payments"]), 1)
    assert state.catalog is not None
    tender = state.catalog["tenders"].get(cmd.tender)
    if tender is None:
        raise Rejected("not_found", f"no tender '{cmd.tender}'")
    if tender_requires_cloud(tender) and cmd.authorization is None:
        # The same answer online or not: nothing here (or in the node) asks the cloud
        # to authorize, so the words must not blame the connection.
        raise Rejected(
            "requires_cloud",
            f"{tender['name']} needs an authorization (the approval code the payment "
            "terminal gave): without one, take cash or another tender",
        )
    balance = check_totals(check).balance
    if balance <= 0:
        raise Rejected("conflict", f"check {check_label(check)} has nothing due")
    amount = balance if cmd.amount is None else cmd.amount
    if amount > balance:
        raise Rejected(
            "exceeds_balance",
            f"payment {money(state, amount)} is more than the {money(state, balance)} due "
            f"on check {check_label(check)}",
        )
    owed = amount + cmd.tip
    if tender["kind"] == "cash":
        tendered = owed if cmd.tendered is None else cmd.tendered
        if tendered < owed:
            raise Rejected(
                "invalid",
                f"cash tendered {money(state, tendered)} is less than {money(state, owed)}",
            )
    else:
        if cmd.tendered is not None and cmd.tendered != owed:
            raise Rejected("invalid", f"only cash gives change, not {tender['name']}")
        tendered = owed
    payment: PaymentRec = {
        "id": state.next_id("payment", "P"),
        "tender": cmd.tender,
        "amount": amount,
        "tip": cmd.tip,
        "tendered": tendered,
        "change": tendered - owed,
        "authorization": cmd.authorization,
        "by": cmd.by,
        "at": ctx.now,
        "business_day": state.business_day_of(ctx.now),
    }
    ensure_day(state, payment["business_day"])
    check["payments"].append(payment)
    _touch(ctx, check)
    return {
        **_summary(check),
        "payment": payment["id"],
        "amount": amount,
        "tip": cmd.tip,
        "change": payment["change"],
    }


def close_check_handler(ctx: Ctx, cmd: CloseCheck) -> dict[str, Any]:
    check = open_check(ctx.state, cmd.check)
    balance = check_totals(check).balance
    if balance != 0:
        raise Rejected(
            "balance_due", f"check {check_label(check)} has {money(ctx.state, balance)} due"
        )
    check["status"] = "closed"
    check["closed_at"] = ctx.now
    _touch(ctx, check)
    return _summary(check)


def reopen_check_handler(ctx: Ctx, cmd: ReopenCheck) -> dict[str, Any]:
    check = get_check(ctx.state, cmd.check)
    if check["status"] != "closed":
        raise Rejected("conflict", f"check {check_label(check)} is already open")
    day = ctx.state.days.get(check["business_day"])
    if day is not None and day["status"] == "closed":
        # A closed day's totals went to the cloud and the manager's report; they stay put.
        raise Rejected("conflict", f"business day {check['business_day']} is closed")
    approved = approver(ctx, cmd.by, cmd.approved_by, "reopen a check")
    check["status"] = "open"
    check["closed_at"] = None
    audit(
        ctx,
        action="reopen_check",
        by=cmd.by,
        approved_by=approved,
        check=check["id"],
        detail=cmd.reason,
    )
    _touch(ctx, check)
    return _summary(check)


def transfer_check_handler(ctx: Ctx, cmd: TransferCheck) -> dict[str, Any]:
    state = ctx.state
    check = open_check(state, cmd.check)
    if cmd.to_server is None and cmd.to_table is None:
        raise Rejected("invalid", "transfer_check: give 'to_server' or 'to_table'")
    if cmd.to_server is not None:
        _floor_staff(ctx, cmd.to_server)
    moves = []
    if cmd.to_server is not None and cmd.to_server != check["server"]:
        moves.append(f"server {check['server']} -> {cmd.to_server}")
        check["server"] = cmd.to_server
    if cmd.to_table is not None and cmd.to_table != check["table"]:
        moves.append(f"table {check['table']} -> {cmd.to_table}")
        check["table"] = cmd.to_table
    for line in check["lines"]:
        for ticket_id in line["tickets"]:
            ticket = state.tickets[ticket_id]
            if ticket["status"] == "open":
                ticket["table"] = check["table"]
                ticket["server"] = check["server"]
    audit(
        ctx,
        action="transfer_check",
        by=cmd.by,
        check=check["id"],
        detail="; ".join(moves) or "no change",
    )
    _touch(ctx, check)
    return {"check": check["id"], "table": check["table"], "server": check["server"]}


def split_check_handler(ctx: Ctx, cmd: SplitCheck) -> dict[str, Any]:
    state = ctx.state
    check = open_check(state, cmd.check)
    label = check_label(check)
    if check["payments"]:
        raise Rejected("conflict", f"check {label} has payments: split it before paying")
    if not cmd.parts:
        raise Rejected("invalid", "split_check: 'parts' must not be empty")
    active = {line["id"]: line for line in check["lines"] if line["status"] != "voided"}
    taken: set[str] = set()
    plan: list[tuple[str, list[LineRec]]] = []
    for part in cmd.parts:
        if part.new_check in state.checks or any(part.new_check == p for p, _ in plan):
            raise Rejected("conflict", f"check {part.new_check} already exists")
        if part.seats:
            chosen = [line for line in active.values() if line["seat"] in part.seats]
            if not chosen:
                seats = ", ".join(str(s) for s in part.seats)
                raise Rejected("invalid", f"seat {seats} has no items on check {label}")
        else:
            for line_id in part.lines:
                if line_id not in active:
                    raise Rejected("not_found", f"no line {line_id} on check {label}")
            chosen = [active[line_id] for line_id in part.lines]
        for line in chosen:
            if line["id"] in taken:
                raise Rejected("invalid", f"line {line['id']} is in two parts of the split")
            taken.add(line["id"])
        plan.append((part.new_check, chosen))
    if not set(active) - taken:
        raise Rejected("invalid", f"a split must leave something on check {label}")
    created = []
    for new_id, chosen in plan:
        seat_set = {line["seat"] for line in chosen}
        new = _new_check(
            ctx,
            check_id=new_id,
            table=check["table"],
            guests=max(1, len(seat_set)),
            server=check["server"],
            by=cmd.by,
            day=check["business_day"],
        )
        new["held_courses"] = list(check["held_courses"])
        new["split_from"] = check["id"]
        chosen_ids = {line["id"] for line in chosen}
        new["lines"] = [line for line in check["lines"] if line["id"] in chosen_ids]
        check["lines"] = [line for line in check["lines"] if line["id"] not in chosen_ids]
        state.checks[new_id] = new
        created.append(new_id)
        _touch(ctx, new)
    _touch(ctx, check)
    return {"check": check["id"], "checks": created}


def comp_handler(ctx: Ctx, cmd: Comp) -> dict[str, Any]:
    check = open_check(ctx.state, cmd.check)
    line = get_line(check, cmd.line)
    if line["status"] == "voided":
        raise Rejected("conflict", f"line {line['id']} ('{line['name']}') is voided")
    if line["comp"] is not None:
        raise Rejected("conflict", f"line {line['id']} ('{line['name']}') is already comped")
    approved = approver(ctx, cmd.by, cmd.approved_by, "comp an item")
    _refuse_overpaid(ctx, check, line, "comping")
    line["comp"] = {"reason": cmd.reason, "by": cmd.by, "approved_by": approved, "at": ctx.now}
    audit(
        ctx,
        action="comp",
        by=cmd.by,
        approved_by=approved,
        check=check["id"],
        detail=f"{line['qty']} x {line['name']} ({line['id']}): {cmd.reason}",
        amount=line_amount(line),
    )
    _touch(ctx, check)
    return _summary(check)


def attach_loyalty_handler(ctx: Ctx, cmd: AttachLoyalty) -> dict[str, Any]:
    check = get_check(ctx.state, cmd.check)
    if cmd.phone is None and cmd.email is None:
        raise Rejected("invalid", "attach_loyalty: give 'phone' or 'email'")
    phone = None
    if cmd.phone is not None:
        phone = _PHONE_CHARS.sub("", cmd.phone)
        if not (phone.isascii() and phone.isdigit()) or not 7 <= len(phone) <= 15:
            raise Rejected("invalid", f"'{cmd.phone}' is not a phone number")
        if cmd.phone.strip().startswith("+"):
            phone = "+" + phone
    email = None
    if cmd.email is not None:
        email = cmd.email.strip().lower()
        if not _EMAIL.match(email):
            raise Rejected("invalid", f"'{cmd.email}' is not an email address")
    check["loyalty"] = {"phone": phone, "email": email}
    _touch(ctx, check)
    return {"check": check["id"], "loyalty": {"phone": phone, "email": email}}
