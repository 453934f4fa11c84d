"""The catalog the cloud publishes: menu, taxes, stations, staff, tenders, site settings.

``validate_catalog`` checks a ``catalog_update`` before it replaces the current
catalog, so that every reference (an item's tax, station and modifiers) resolves
and every rule the ledger relies on holds. The catalog is stored as given (after
validation); lines copy the prices and tax they were sold with, so a later update
never reprices a check that is already open.
"""

from __future__ import annotations

from typing import Any, Final

from mesh.ledger.errors import Rejected

ROLES: Final = frozenset({"server", "bartender", "kitchen", "manager"})
TENDER_KINDS: Final = frozenset({"cash", "custom", "card", "gift_card", "on_account"})
# Rules: these tenders cannot be settled on the LAN alone, whatever the catalog says.
CLOUD_TENDER_KINDS: Final = frozenset({"card", "gift_card", "on_account"})
MAX_PRICE = 10**8


def _fail(where: str, why: str) -> Rejected:
    return Rejected("invalid", f"catalog {where} {why}")


def _table(catalog: dict[str, Any], key: str) -> dict[str, Any]:
    value = catalog.get(key)
    if not isinstance(value, dict):
        raise _fail(key, "must be an object of id -> entry")
    for k, v in value.items():
        if not isinstance(v, dict):
            raise _fail(f"{key}.{k}", "must be an object")
        if not isinstance(v.get("name"), str) or not v["name"]:
            raise _fail(f"{key}.{k}", "needs a name")
    return value


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(where, f"must be an integer between {lo} and {hi}")
    return value


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def validate_catalog(catalog: dict[str, Any]) -> dict[str, Any]:
    """``catalog`` if it is complete and consistent, else ``Rejected("invalid")``."""
    if _has_float(catalog):
        # Money is minor units and the snapshot holds no floats, anywhere.
        raise Rejected(
            "invalid", "catalog must not contain fractional numbers (prices are in minor units)"
        )
    # 0 is the catalog a site is set up with (genesis.json): the cloud numbers its
    # published catalogs from 1, so its first one is always newer than the sample.
    _int(catalog.get("version"), "version", 0, 2**53)
    site = catalog.get("site")
    if not isinstance(site, dict) or not isinstance(site.get("name"), str):
        raise _fail("site", "must be an object with a name")
    _int(site.get("utc_offset_minutes"), "site.utc_offset_minutes", -14 * 60, 14 * 60)
    _int(site.get("day_start_hour"), "site.day_start_hour", 0, 23)
    _int(site.get("decimals", 2), "site.decimals", 0, 3)
    changes = site.get("offset_changes", [])
    if not isinstance(changes, list) or not all(
        isinstance(c, list) and len(c) == 2 and all(isinstance(x, int) for x in c) for c in changes
    ):
        raise _fail("site.offset_changes", "must be a list of [from_ms, minutes]")

    taxes = _table(catalog, "taxes")
    for k, tax in taxes.items():
        _int(tax.get("rate_bp"), f"taxes.{k}.rate_bp", 0, 10_000)
        if not isinstance(tax.get("inclusive"), bool):
            raise _fail(f"taxes.{k}.inclusive", "must be true or false")
    stations = _table(catalog, "stations")
    categories = _table(catalog, "categories")
    modifiers = _table(catalog, "modifiers")
    for k, mod in modifiers.items():
        _int(mod.get("price"), f"modifiers.{k}.price", 0, MAX_PRICE)
    items = _table(catalog, "items")
    for k, item in items.items():
        _int(item.get("price"), f"items.{k}.price", 0, MAX_PRICE)
        if item.get("category") not in categories:
            raise _fail(f"items.{k}.category", "is not a known category")
        if item.get("station") not in stations:
            raise _fail(f"items.{k}.station", "is not a known station")
        if item.get("tax") is not None and item["tax"] not in taxes:
            raise _fail(f"items.{k}.tax", "is not a known tax")
        mods = item.get("modifiers", [])
        if not isinstance(mods, list) or any(m not in modifiers for m in mods):
            raise _fail(f"items.{k}.modifiers", "must list known modifiers")
    eighty_six = catalog.get("eighty_six", [])
    if not isinstance(eighty_six, list) or any(i not in items for i in eighty_six):
        raise _fail("eighty_six", "must list known items")

    staff = _table(catalog, "staff")
    for k, member in staff.items():
        if k.startswith("@"):
            raise _fail(f"staff.{k}", "ids starting with '@' are reserved for the system")
        if member.get("role") not in ROLES:
            raise _fail(f"staff.{k}.role", f"must be one of {sorted(ROLES)}")
        if member.get("pin_hash") is not None and not isinstance(member["pin_hash"], str):
            raise _fail(f"staff.{k}.pin_hash", "must be a string or null")
    tenders = _table(catalog, "tenders")
    for k, tender in tenders.items():
        if tender.get("kind") not in TENDER_KINDS:
            raise _fail(f"tenders.{k}.kind", f"must be one of {sorted(TENDER_KINDS)}")
        if not isinstance(tender.get("requires_cloud", False), bool):
            raise _fail(f"tenders.{k}.requires_cloud", "must be true or false")
    return catalog


def tender_requires_cloud(tender: dict[str, Any]) -> bool:
    return bool(tender.get("requires_cloud")) or tender["kind"] in CLOUD_TENDER_KINDS


def expo_station(catalog: dict[str, Any]) -> str | None:
    """The station that gets the expo copy of every fire (the first marked ``expo``)."""
    for sid in sorted(catalog["stations"]):
        if catalog["stations"][sid].get("expo"):
            return str(sid)
    return None
