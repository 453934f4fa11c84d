"""Read-only queries the apps and ``tablemesh ctl`` need, as JSON-able dicts.

Results are fresh copies (``json_copy``: a KDS's expo screen asks for every open
ticket of the site after each change, and ``copy.deepcopy`` made that three times
as long, measured): a caller may keep or change them without touching the state.
Lists are sorted explicitly (never by dict order), so every node answers the same
query with the same JSON. Money is minor units; times are ms UTC.
"""

from __future__ import annotations

from typing import Any

from mesh.ledger.money import check_totals, line_amount
from mesh.ledger.records import CheckRec, TicketRec
from mesh.ledger.rules import RECALL_WINDOW_MS
from mesh.ledger.state import LedgerState, json_copy


def _sort_key_check(check: CheckRec) -> tuple[int, str]:
    return check["opened_at"], check["id"]


def _synced(state: LedgerState, key: str) -> bool:
    rec = state.sync.get(key)
    return rec is None or rec["dirty_since"] is None


def check_summary(state: LedgerState, check: CheckRec) -> dict[str, Any]:
    """The short form of a check, for lists."""
    totals = check_totals(check)
    return {
        "id": check["id"],
        "number": check["number"],
        "table": check["table"],
        "guests": check["guests"],
        "server": check["server"],
        "status": check["status"],
        "business_day": check["business_day"],
        "opened_at": check["opened_at"],
        "closed_at": check["closed_at"],
        "total": totals.total,
        "balance": totals.balance,
        "synced": _synced(state, f"check:{check['id']}"),
    }


def check_detail(state: LedgerState, check: CheckRec) -> dict[str, Any]:
    """One check with its lines, payments, totals and status."""
    out = check_summary(state, check)
    lines = json_copy(check["lines"])
    for line in lines:
        line["amount"] = line_amount(line)
    out.update(
        {
            "lines": lines,
            "payments": json_copy(check["payments"]),
            "totals": check_totals(check).to_dict(),
            "held_courses": list(check["held_courses"]),
            "loyalty": json_copy(check["loyalty"]),
            "split_from": check["split_from"],
        }
    )
    return out


def find_check(state: LedgerState, ref: str) -> dict[str, Any] | None:
    """A check by temporary ID or real number, with its detail; None if unknown."""
    check = state.find_check(ref)
    return None if check is None else check_detail(state, check)


def list_checks(
    state: LedgerState,
    *,
    open_only: bool = True,
    day: str | None = None,
    table: str | None = None,
    server: str | None = None,
) -> list[dict[str, Any]]:
    """Checks oldest first: open ones only or all, of one business day, table, server."""
    found = [
        c
        for c in state.checks.values()
        if (not open_only or c["status"] == "open")
        and (day is None or c["business_day"] == day)
        and (table is None or c["table"] == table)
        and (server is None or c["server"] == server)
    ]
    return [check_summary(state, c) for c in sorted(found, key=_sort_key_check)]


def open_checks(
    state: LedgerState, *, table: str | None = None, server: str | None = None
) -> list[dict[str, Any]]:
    """Open checks, oldest first, optionally of one table and/or one server."""
    return list_checks(state, table=table, server=server)


def checks_of_day(state: LedgerState, day: str) -> list[dict[str, Any]]:
    return list_checks(state, open_only=False, day=day)


def _line_station(state: LedgerState, check_id: str, line_id: str) -> str:
    """The station a line is cooked at: on its check, or wherever a split moved it."""
    check = state.checks.get(check_id)
    if check is not None:
        for line in check["lines"]:
            if line["id"] == line_id:
                return line["station"]
    # A split moves lines to new checks but leaves the tickets naming the first one.
    for other in state.checks.values():
        for line in other["lines"]:
            if line["id"] == line_id:
                return line["station"]
    return ""


def _ticket_view(state: LedgerState, ticket: TicketRec, now_ms: int | None) -> dict[str, Any]:
    out: dict[str, Any] = json_copy(dict(ticket))
    check = state.checks.get(ticket["check"])
    out["number"] = check["number"] if check else None  # the KDS shows #1042 once numbered
    out.setdefault("refire", False)
    out.setdefault("refire_of", [])
    out.setdefault("refire_reason", None)
    expo = bool(state.catalog and state.catalog["stations"].get(ticket["station"], {}).get("expo"))
    for item in out["items"]:
        # Expo's items come from every station; a station ticket holds only its own.
        where = _line_station(state, ticket["check"], item["line"]) if expo else ticket["station"]
        item["station"] = where
    if now_ms is not None:
        out["age_ms"] = max(0, now_ms - ticket["created_at"])
    return out


def tickets(
    state: LedgerState,
    *,
    station: str | None = None,
    include_bumped: bool = False,
    now_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Tickets oldest first (by station if given), with their items and states.

    Each ticket carries its check's ``number`` (None until the cloud numbers it),
    ``refire`` / ``refire_of`` / ``refire_reason``, and each item its ``station``.
    With ``now_ms`` each ticket carries ``age_ms`` for colour ageing on the KDS.
    """
    found = [
        t
        for t in state.tickets.values()
        if (station is None or t["station"] == station)
        and (include_bumped or t["status"] == "open")
    ]
    found.sort(key=lambda t: (t["created_at"], int(t["id"][1:])))
    return [_ticket_view(state, t, now_ms) for t in found]


def recently_bumped(
    state: LedgerState, *, station: str, limit: int = 10, now_ms: int | None = None
) -> list[dict[str, Any]]:
    """The last bumped tickets of a station, newest first: the recall list.

    With the caller's ``now_ms`` only tickets still inside the recall window (the
    ones ``recall`` would take back at that time) are listed, each with ``age_ms``;
    without it, the last ``limit`` bumped tickets whatever their age.
    """
    found = [
        t
        for t in state.tickets.values()
        if t["station"] == station
        and t["status"] == "bumped"
        and (
            now_ms is None or t["bumped_at"] is None or now_ms - t["bumped_at"] <= RECALL_WINDOW_MS
        )
    ]
    found.sort(key=lambda t: (t["bumped_at"] or 0, int(t["id"][1:])), reverse=True)
    return [_ticket_view(state, t, now_ms) for t in found[:limit]]


def all_day_counts(state: LedgerState, *, station: str | None = None) -> dict[str, int]:
    """How many of each item are on open tickets and not yet bumped ("all day")."""
    counts: dict[str, int] = {}
    for ticket in state.tickets.values():
        if ticket["status"] != "open" or (station is not None and ticket["station"] != station):
            continue
        if (
            station is None
            and state.catalog
            and state.catalog["stations"].get(ticket["station"], {}).get("expo")
        ):
            continue  # the expo copy would count every item twice
        for item in ticket["items"]:
            if item["state"] == "new":
                counts[item["name"]] = counts.get(item["name"], 0) + item["qty"]
    return dict(sorted(counts.items()))


def day_totals(state: LedgerState, day: str) -> dict[str, Any]:
    """Money of one business day: sales, tax, voids, comps, tips and sales by tender."""
    sales = tax = voids = comps = tips = 0
    checks_count = open_count = 0
    for check in state.checks.values():
        if check["business_day"] != day:
            continue
        checks_count += 1
        open_count += check["status"] == "open"
        totals = check_totals(check)
        sales += totals.total
        tax += totals.tax
        voids += totals.voids
        comps += totals.comps
    by_tender: dict[str, dict[str, int]] = {}
    for check in state.checks.values():
        for p in check["payments"]:
            if p["business_day"] != day:
                continue
            row = by_tender.setdefault(p["tender"], {"count": 0, "amount": 0, "tips": 0})
            row["count"] += 1
            row["amount"] += p["amount"]
            row["tips"] += p["tip"]
            tips += p["tip"]
    return {
        "day": day,
        "checks": checks_count,
        "open_checks": open_count,
        "sales": sales,
        "tax": tax,
        "voids": voids,
        "comps": comps,
        "tips": tips,
        "by_tender": dict(sorted(by_tender.items())),
    }


def unsynced_count(state: LedgerState) -> tuple[int, int | None]:
    """(records waiting for the cloud, stamped time of the oldest waiting change)."""
    count = 0
    oldest: int | None = None
    for rec in state.sync.values():
        since = rec["dirty_since"]
        if since is not None:
            count += 1
            oldest = since if oldest is None else min(oldest, since)
    return count, oldest


def day_summary(state: LedgerState, *, now_ms: int, day: str | None = None) -> dict[str, Any]:
    """The day's summary for a manager: money, voids, comps, and the sync backlog.

    ``now_ms`` is the caller's clock, used only for the age of the oldest unsynced
    change; without ``day`` the current business day at ``now_ms``.
    """
    day = day or state.business_day_of(now_ms)
    out = day_totals(state, day)
    rec = state.days.get(day)
    out["status"] = rec["status"] if rec else "not_started"
    count, oldest = unsynced_count(state)
    out["unsynced"] = count
    out["oldest_unsynced_age_ms"] = None if oldest is None else max(0, now_ms - oldest)
    out["void_count"] = sum(
        1 for a in state.audit if a["business_day"] == day and a["action"] == "void_item"
    )
    out["comp_count"] = sum(
        1 for a in state.audit if a["business_day"] == day and a["action"] == "comp"
    )
    out["no_sales"] = sum(
        1 for a in state.audit if a["business_day"] == day and a["action"] == "no_sale"
    )
    return out


def audit_trail(
    state: LedgerState, *, day: str | None = None, check: str | None = None
) -> list[dict[str, Any]]:
    """Audit records in order, optionally of one business day or one check."""
    return [
        dict(a)
        for a in state.audit
        if (day is None or a["business_day"] == day) and (check is None or a["check"] == check)
    ]


def clocked_in(state: LedgerState) -> list[dict[str, Any]]:
    return [dict(state.time_entries[state.on_clock[s]]) for s in sorted(state.on_clock)]


def unsynced_records(state: LedgerState, *, limit: int = 100) -> list[dict[str, Any]]:
    """What the sync agent uploads next: oldest change first, each with its version.

    The agent acknowledges with a ``synced`` command carrying ``key`` and ``version``.
    """
    waiting = sorted(
        (rec["dirty_since"], key, rec["version"])
        for key, rec in state.sync.items()
        if rec["dirty_since"] is not None
    )
    out = []
    for _since, key, version in waiting[:limit]:
        kind, _, ident = key.partition(":")
        record: Any = None
        if kind == "check":
            record = check_detail(state, state.checks[ident]) if ident in state.checks else None
        elif kind == "time":
            record = dict(state.time_entries[ident])
        elif kind == "audit":
            record = dict(state.audit[int(ident) - 1]) if int(ident) <= len(state.audit) else None
        elif kind == "day":
            record = dict(state.days[ident])
        out.append({"key": key, "version": version, "record": record})
    return out


def overview(state: LedgerState, *, now_ms: int) -> dict[str, Any]:
    """What ``tablemesh ctl state --json`` prints: where the ledger stands."""
    count, oldest = unsynced_count(state)
    return {
        "applied_index": state.applied_index,
        "applied_term": state.applied_term,
        "last_time_ms": state.last_time_ms,
        "state_hash": state.state_hash(),
        "catalog_version": state.catalog["version"] if state.catalog else None,
        "business_day": state.business_day_of(now_ms),
        "open_checks": sum(1 for c in state.checks.values() if c["status"] == "open"),
        "open_tickets": sum(1 for t in state.tickets.values() if t["status"] == "open"),
        "eighty_six": sorted(state.eighty_six),
        "clocked_in": sorted(state.on_clock),
        "unsynced": count,
        "oldest_unsynced_age_ms": None if oldest is None else max(0, now_ms - oldest),
        "dedup_entries": state.dedup_size(),
    }
