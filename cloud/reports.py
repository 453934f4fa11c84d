"""Reading back what sites posted: checks by either id, checks of a day, day summaries.

Read-only; every query is filtered by the asking site.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import Check, Device, Event
from cloud.schemas import CheckOut, DaySummary, DeviceOut

CLOSED_STATUSES = frozenset({"closed", "paid", "void", "voided"})
EVENT_KINDS = ("time_entry", "no_sale", "audit", "day_close")
# An event id ending in ".v<N>" is version N of the record the rest of the id names:
# the mesh posts a time entry again when it changes (time.T1.v1 at clock-in,
# time.T1.v2 at clock-out). A day summary counts records, not their versions.
_VERSION_SUFFIX = re.compile(r"\.v[0-9]+\Z")


def record_id(event_id: str) -> str:
    """The record an event is a version of: its id without a trailing ``.v<N>``."""
    return _VERSION_SUFFIX.sub("", event_id)


def check_out(row: Check) -> CheckOut:
    return CheckOut(
        temp_id=row.temp_id,
        number=row.number,
        business_day=row.business_day,
        status=row.status,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        total=row.total,
        tips=row.tips,
        revision=row.revision,
        first_seen_at=row.first_seen_at,
        updated_at=row.updated_at,
        document=row.document,
    )


def find_check(session: Session, site_id: int, ref: str) -> Check | None:
    """The check whose number or temporary id is ``ref`` (numbers first)."""
    mine = select(Check).where(Check.site_id == site_id)
    if ref.isascii() and ref.isdigit() and len(ref) <= 18:
        found = session.scalar(mine.where(Check.number == int(ref)))
        if found is not None:
            return found
    return session.scalar(mine.where(Check.temp_id == ref))


def list_checks(
    session: Session, site_id: int, business_day: dt.date | None, after: int, limit: int
) -> list[Check]:
    query = select(Check).where(Check.site_id == site_id, Check.number > after)
    if business_day is not None:
        query = query.where(Check.business_day == business_day)
    return list(session.scalars(query.order_by(Check.number).limit(limit)))


def day_summary(session: Session, site_id: int, business_day: dt.date) -> DaySummary:
    checks = list(
        session.scalars(
            select(Check)
            .where(Check.site_id == site_id, Check.business_day == business_day)
            .order_by(Check.number)
        )
    )
    rows = session.execute(
        select(Event.kind, Event.event_id).where(
            Event.site_id == site_id, Event.business_day == business_day
        )
    )
    kinds = Counter(kind for kind, _ in {(kind, record_id(event_id)) for kind, event_id in rows})
    by_tender: Counter[str] = Counter()
    for row in checks:
        for payment in row.document.get("payments", []):
            tender, amount = _tender_and_amount(payment)
            if tender is not None:
                by_tender[tender] += amount
    closed = [row for row in checks if row.status in CLOSED_STATUSES]
    return DaySummary(
        business_day=business_day,
        checks=len(checks),
        open_checks=len(checks) - len(closed),
        closed_checks=len(closed),
        first_number=checks[0].number if checks else None,
        last_number=checks[-1].number if checks else None,
        total=sum(row.total for row in checks),
        tips=sum(row.tips for row in checks),
        payments_by_tender=dict(sorted(by_tender.items())),
        events={kind: kinds.get(kind, 0) for kind in EVENT_KINDS},
        closed=kinds.get("day_close", 0) > 0,
    )


def _tender_and_amount(payment: Any) -> tuple[str | None, int]:
    # Payments are the mesh's shape; only a string "tender" and an integer "amount" count.
    if not isinstance(payment, dict):
        return None, 0
    tender, amount = payment.get("tender"), payment.get("amount")
    if isinstance(tender, str) and isinstance(amount, int) and not isinstance(amount, bool):
        return tender, amount
    return None, 0


def list_devices(session: Session, site_id: int) -> list[DeviceOut]:
    rows = session.scalars(
        select(Device).where(Device.site_id == site_id).order_by(Device.device_id)
    )
    return [
        DeviceOut(
            id=row.device_id,
            name=row.name,
            role=row.role,
            data=row.data,
            first_seen_at=row.first_seen_at,
            last_seen_at=row.last_seen_at,
        )
        for row in rows
    ]
