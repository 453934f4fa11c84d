"""Handlers for what the leader's sync agent commits from the cloud.

Rules
- ``check_numbered``: the cloud's real number for a temporary ID. Both find the
  check afterwards. The cloud is idempotent on the temporary ID, so the same pair
  may arrive twice (a new leader resends): that is accepted and changes nothing.
- ``catalog_update``: replaces the catalog, only with a newer version (a new
  leader may resend an older one). The 86 list is reset to the catalog's.
- ``synced``: the versions of records the cloud has stored. A record is synced
  when the acknowledged version reaches its current one; a later change makes it
  unsynced again (with a new ``dirty_since``).
"""

from __future__ import annotations

from typing import Any

from mesh.ledger.catalog import validate_catalog
from mesh.ledger.commands import CatalogUpdate, CheckNumbered, ChecksNumbered, Synced
from mesh.ledger.errors import Rejected
from mesh.ledger.rules import Ctx, audit, get_check
from mesh.ledger.state import json_copy


def _number(ctx: Ctx, temp_id: str, number: int) -> dict[str, Any]:
    state = ctx.state
    check = get_check(state, temp_id)
    if check["number"] == number:
        return {"check": check["id"], "number": number, "changed": False}
    if check["number"] is not None:
        raise Rejected("conflict", f"check {check['id']} already has number {check['number']}")
    other = state.numbers.get(str(number))
    if other is not None:
        raise Rejected("conflict", f"number {number} already belongs to check {other}")
    check["number"] = number
    state.numbers[str(number)] = check["id"]
    return {"check": check["id"], "number": number, "changed": True}


def check_numbered_handler(ctx: Ctx, cmd: CheckNumbered) -> dict[str, Any]:
    return _number(ctx, cmd.check, cmd.number)


def checks_numbered_handler(ctx: Ctx, cmd: ChecksNumbered) -> dict[str, Any]:
    # Each pair stands alone, as if it were its own check_numbered: a pair the
    # ledger refuses (a cloud that misnumbers) is reported and skipped, the rest apply.
    changed = unchanged = 0
    skipped: list[dict[str, Any]] = []
    for temp_id, number in cmd.numbers:
        try:
            result = _number(ctx, temp_id, number)
        except Rejected as exc:
            skipped.append(
                {"check": temp_id, "number": number, "code": exc.error.code,
                 "message": exc.error.message}
            )  # fmt: skip
            continue
        if result["changed"]:
            changed += 1
        else:
            unchanged += 1
    return {"changed": changed, "unchanged": unchanged, "skipped": skipped}


def catalog_update_handler(ctx: Ctx, cmd: CatalogUpdate) -> dict[str, Any]:
    state = ctx.state
    # A JSON copy, so that the state never shares objects with the command it came in.
    catalog = validate_catalog(json_copy(cmd.catalog))
    current = state.catalog["version"] if state.catalog else -1  # genesis is version 0
    if catalog["version"] <= current:
        raise Rejected(
            "conflict", f"catalog version {catalog['version']} is not newer than {current}"
        )
    state.catalog = catalog
    state.eighty_six = {item: ctx.now for item in catalog.get("eighty_six", [])}
    audit(ctx, action="catalog_update", by=cmd.by, detail=f"version {catalog['version']}")
    return {"version": catalog["version"]}


def synced_handler(ctx: Ctx, cmd: Synced) -> dict[str, Any]:
    acknowledged = unknown = 0
    for key, version in cmd.acks:
        rec = ctx.state.sync.get(key)
        if rec is None:
            unknown += 1
            continue
        acknowledged += 1
        # The cloud can only have seen versions that exist; clamp in case it misreports.
        rec["synced_version"] = max(rec["synced_version"], min(version, rec["version"]))
        if rec["synced_version"] >= rec["version"]:
            rec["dirty_since"] = None
    return {"acknowledged": acknowledged, "unknown": unknown}
