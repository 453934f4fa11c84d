"""The shapes of the ledger's state: JSON-ready records, typed with ``TypedDict``.

State is kept as plain dicts, lists, strings and ints so that the canonical
snapshot is one ``json.dumps`` away and a query result is a copy of a record.
No floats anywhere: money is integer minor units, time is integer ms (UTC).
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class ModifierRec(TypedDict):
    id: str
    name: str
    price: int


class VoidRec(TypedDict):
    reason: str
    by: str
    approved_by: str | None
    at: int


class CompRec(TypedDict):
    reason: str
    by: str
    approved_by: str
    at: int


class LineRec(TypedDict):
    id: str
    item: str
    name: str
    qty: int
    unit_price: int  # item price plus modifier prices, fixed when the line is added
    modifiers: list[ModifierRec]
    seat: int
    course: int
    note: str
    station: str
    tax: str | None  # tax id, rate and mode are copied so a later menu change cannot reprice
    tax_rate_bp: int
    tax_inclusive: bool
    status: str  # "new" | "fired" | "voided"
    added_at: int
    added_by: str
    fired_at: int | None
    tickets: list[str]  # the kitchen tickets the line went out on (station and expo)
    void: VoidRec | None
    comp: CompRec | None


class PaymentRec(TypedDict):
    id: str
    tender: str
    amount: int  # applied to the check
    tip: int
    tendered: int  # handed over (cash); equals amount + tip for other tenders
    change: int
    authorization: str | None
    by: str
    at: int
    business_day: str


class LoyaltyRec(TypedDict):
    phone: str | None
    email: str | None


class CheckRec(TypedDict):
    id: str
    number: int | None
    table: str
    guests: int
    server: str
    status: str  # "open" | "closed"
    business_day: str
    opened_at: int
    opened_by: str
    closed_at: int | None
    held_courses: list[int]
    lines: list[LineRec]
    payments: list[PaymentRec]
    loyalty: LoyaltyRec | None
    split_from: str | None


class TicketItemRec(TypedDict):
    line: str
    item: str
    name: str
    qty: int
    modifiers: list[str]
    note: str
    seat: int
    course: int
    state: str  # "new" | "bumped" | "voided"


class TicketRec(TypedDict):
    id: str
    check: str
    table: str
    server: str
    station: str
    course: int | None
    status: str  # "open" | "bumped"
    created_at: int
    bumped_at: int | None
    items: list[TicketItemRec]
    # Only on a refire's tickets (absent, not false, on every other ticket: tickets made
    # before refires existed hash the same, so a snapshot of an older log is unchanged).
    refire: NotRequired[bool]
    refire_of: NotRequired[list[str]]  # the original tickets of these lines at this station
    refire_reason: NotRequired[str]


class TimeEntryRec(TypedDict):
    id: str
    staff: str
    role: str
    clock_in: int
    clock_out: int | None
    business_day: str


class DayRec(TypedDict):
    day: str
    status: str  # "open" | "closed"
    opened_at: int | None
    opened_by: str | None
    closed_at: int | None
    closed_by: str | None


class AuditRec(TypedDict):
    seq: int
    at: int
    business_day: str
    action: str
    by: str
    approved_by: str | None
    check: str | None
    detail: str
    amount: int


class SyncRec(TypedDict):
    version: int  # bumped on every change of the record
    synced_version: int  # the highest version the cloud acknowledged
    dirty_since: int | None  # stamped time of the oldest change not yet acknowledged
