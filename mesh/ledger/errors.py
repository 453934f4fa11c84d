"""Typed, human-readable rejections of a command, with a stable machine ``code``.

A rejected command changes nothing in the ledger; the caller shows ``message`` to
the person who tried it and scripts branch on ``code``. Codes are part of the JSON
contract (docs/commands.md): add new ones, never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# Rules: every code a rejection may carry, with what it means to the person.
ERROR_CODES: Final[dict[str, str]] = {
    "invalid": "the command is malformed or a field is out of range",
    "not_found": "a check, line, ticket, item, staff member or tender does not exist",
    "forbidden": "the staff member's role may not do this",
    "approval_required": "a manager must approve this",
    "check_closed": "the check is closed and takes no changes",
    "item_86d": "the item is 86'd (out of stock)",
    "requires_cloud": "the tender needs the cloud (card, gift card, on account)",
    "balance_due": "the check cannot close while money is still due",
    "exceeds_balance": "the payment is larger than the balance due",
    "conflict": "the thing is not in a state that allows this (already done, not yet done)",
    "open_checks": "the business day still has open checks",
    "no_catalog": "no menu/staff catalog has been loaded yet",
    "internal": "a bug in the ledger (the same on every node); report the message",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerError:
    """Why a command was rejected: ``code`` for programs, ``message`` for people."""

    code: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class Rejected(Exception):
    """Raised inside ``apply`` to refuse a command before anything is changed."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.error = LedgerError(code=code, message=message)


class OutOfOrderEntry(Exception):
    """The caller handed ``apply`` an entry at or below the applied index: a node bug."""
