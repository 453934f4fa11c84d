"""Who may do what, manager approvals, and the small lookups every handler shares.

Rules
- Each command type lists the roles that may submit it (``ALLOWED_ROLES``).
- ``SYSTEM`` is the role of the leader's sync agent and site set-up (actors whose
  id starts with ``@``); only they may commit what comes from the cloud. The node
  refuses ``@`` actors from clients, so a terminal cannot forge a price list.
- Privileged actions need a manager: either ``by`` is a manager, or
  ``approved_by`` names a manager whose PIN the device has just verified. The
  approval is written to the audit trail either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mesh.ledger.errors import Rejected
from mesh.ledger.money import format_money
from mesh.ledger.records import AuditRec, CheckRec, LineRec
from mesh.ledger.state import LedgerState

SYSTEM: Final = "system"
SYSTEM_ACTORS: Final = frozenset({"@sync", "@setup"})

FLOOR: Final = frozenset({"server", "bartender", "manager"})
KITCHEN: Final = frozenset({"kitchen", "bartender", "manager"})
STAFF: Final = frozenset({"server", "bartender", "kitchen", "manager"})
MANAGER: Final = frozenset({"manager"})
CLOUD: Final = frozenset({SYSTEM})

ALLOWED_ROLES: Final[dict[str, frozenset[str]]] = {
    "open_check": FLOOR,
    "add_items": FLOOR,
    "void_item": FLOOR,
    "fire": FLOOR,
    "hold_course": FLOOR,
    "pay": FLOOR,
    "close_check": FLOOR,
    "reopen_check": FLOOR,  # plus a manager's approval
    "transfer_check": FLOOR,
    "split_check": FLOOR,
    "comp": FLOOR,  # plus a manager's approval
    "attach_loyalty": FLOOR,
    "bump": KITCHEN,
    "recall": KITCHEN,
    "refire": STAFF,  # a server whose guest sent a dish back, or the kitchen itself
    "eighty_six": KITCHEN,
    "clock_in": STAFF,
    "clock_out": STAFF,
    "no_sale": FLOOR,  # plus a manager's approval
    "open_day": MANAGER,
    "close_day": MANAGER,
    "check_numbered": CLOUD,
    "checks_numbered": CLOUD,
    "catalog_update": CLOUD,
    "synced": CLOUD,
}

RECALL_WINDOW_MS: Final = 30 * 60_000  # a bumped ticket can be recalled for 30 minutes


@dataclass(frozen=True, slots=True, kw_only=True)
class Ctx:
    """What a handler knows besides the command: the state, the stamped time, the role."""

    state: LedgerState
    now: int
    role: str


def role_of(state: LedgerState, actor: str) -> str:
    if actor in SYSTEM_ACTORS:
        return SYSTEM
    if state.catalog is None:
        raise Rejected("no_catalog", "no catalog loaded yet: staff cannot act until it syncs")
    member = state.catalog["staff"].get(actor)
    if member is None:
        raise Rejected("not_found", f"unknown staff member '{actor}'")
    if member.get("active", True) is False:
        raise Rejected("forbidden", f"{member['name']} is not an active staff member")
    role: str = member["role"]
    return role


def staff_name(state: LedgerState, staff_id: str) -> str:
    if state.catalog is not None and staff_id in state.catalog["staff"]:
        name: str = state.catalog["staff"][staff_id]["name"]
        return name
    return staff_id


def require_role(state: LedgerState, ctype: str, actor: str) -> str:
    role = role_of(state, actor)
    if role not in ALLOWED_ROLES[ctype]:
        who = "the sync agent" if role == SYSTEM else f"{staff_name(state, actor)} ({role})"
        raise Rejected("forbidden", f"{who} may not {ctype.replace('_', ' ')}")
    return role


def approver(ctx: Ctx, by: str, approved_by: str | None, action: str) -> str:
    """The manager who approves ``action``: ``by`` itself or ``approved_by``."""
    if ctx.role == "manager":
        return by
    if approved_by is None:
        raise Rejected("approval_required", f"manager approval required to {action}")
    if approved_by in SYSTEM_ACTORS or role_of(ctx.state, approved_by) != "manager":
        name = staff_name(ctx.state, approved_by)
        raise Rejected("approval_required", f"{name} is not a manager and cannot approve this")
    return approved_by


def check_label(check: CheckRec) -> str:
    return f"#{check['number']}" if check["number"] is not None else check["id"]


def get_check(state: LedgerState, ref: str) -> CheckRec:
    check = state.find_check(ref)
    if check is None:
        raise Rejected("not_found", f"no check {ref}")
    return check


def open_check(state: LedgerState, ref: str) -> CheckRec:
    check = get_check(state, ref)
    if check["status"] != "open":
        raise Rejected("check_closed", f"check {check_label(check)} is closed")
    return check


def get_line(check: CheckRec, line_id: str) -> LineRec:
    for line in check["lines"]:
        if line["id"] == line_id:
            return line
    raise Rejected("not_found", f"no line {line_id} on check {check_label(check)}")


def money(state: LedgerState, amount: int) -> str:
    return format_money(amount, int(state.site().get("decimals", 2)))


def audit(
    ctx: Ctx,
    *,
    action: str,
    by: str,
    detail: str,
    approved_by: str | None = None,
    check: str | None = None,
    amount: int = 0,
    business_day: str | None = None,
) -> AuditRec:
    """Append an audit record, filed under ``business_day`` or else the day sales go into."""
    state = ctx.state
    state.seq["audit"] += 1
    rec: AuditRec = {
        "seq": state.seq["audit"],
        "at": ctx.now,
        "business_day": state.business_day_of(ctx.now) if business_day is None else business_day,
        "action": action,
        "by": by,
        "approved_by": approved_by,
        "check": check,
        "detail": detail,
        "amount": amount,
    }
    state.audit.append(rec)
    state.touch(f"audit:{rec['seq']}", ctx.now)
    return rec


def ensure_day(state: LedgerState, day: str) -> None:
    """A business day exists from its first sale, even if nobody pressed 'open day'."""
    if day not in state.days:
        state.days[day] = {
            "day": day,
            "status": "open",
            "opened_at": None,
            "opened_by": None,
            "closed_at": None,
            "closed_by": None,
        }
