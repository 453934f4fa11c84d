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
from mesh.ledger.commands import CatalogUpdate, CheckNumbered, Synced
from mesh.ledger.errors import Rejected
from mesh.ledger.rules import Ctx, audit, get_check
from mesh.ledger.state import json_copy


def check_numbered_handler(ctx: Ctx, cmd: CheckNumbered) -> dict[str, Any]:
    state = ctx.state
    check = get_check(state, cmd.check)
    if check["number"] == cmd.number:
        return {"check": check["id"], "number": cmd.number, "changed": False}
    if check["number"] is not None:
        raise Rejected("conflict", f"check {check['id']} already has number {check['number']}")
    other = state.numbers.get(str(cmd.number))
    if other is not None:
        raise Rejected("conflict", f"number {cmd.number} already belongs to check {other}")
    check["number"] = cmd.number
    state.numbers[str(cmd.number)] = check["id"]
    return {"check": check["id"], "number": cmd.number, "changed": True}


def catalog_update_handler(ctx: Ctx, cmd: CatalogUpdate) -> dict[str, Any]:
    state = ctx.state
    # A JSON copy, so that the state never shares objects with the command it came in.
    catalog = validate_catalog(json_copy(cmd.catalog))
    current = state.catalog["version"] if state.catalog else 0
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
