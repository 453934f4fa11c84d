"""Roles: every command type refuses every role not in its row of the rules table."""

from __future__ import annotations

from typing import Any

import pytest

from mesh.ledger.rules import ALLOWED_ROLES, SYSTEM
from mesh.ledger.sample_catalog import SAMPLE_STAFF_ROLES, sample_catalog
from tests.ledger.ledger_harness import Till

# The smallest well-formed body of each command type (so parsing passes and the role decides).
MINIMAL: dict[str, dict[str, Any]] = {
    "open_check": {"check": "7QK-5D", "table": "1"},
    "add_items": {"check": "7QK-5D", "items": [{"item": "ipa"}]},
    "void_item": {"check": "7QK-5D", "line": "L1", "reason": "x"},
    "fire": {"check": "7QK-5D"},
    "hold_course": {"check": "7QK-5D", "course": 2},
    "pay": {"check": "7QK-5D", "tender": "cash"},
    "close_check": {"check": "7QK-5D"},
    "reopen_check": {"check": "7QK-5D", "reason": "x"},
    "transfer_check": {"check": "7QK-5D", "to_table": "2"},
    "split_check": {"check": "7QK-5D", "parts": [{"new_check": "7QK-6B", "seats": [1]}]},
    "comp": {"check": "7QK-5D", "line": "L1", "reason": "x"},
    "attach_loyalty": {"check": "7QK-5D", "phone": "5550102030"},
    "bump": {"ticket": "K1"},
    "recall": {"ticket": "K1"},
    "refire": {"check": "7QK-5D", "lines": ["L1"], "reason": "x"},
    "eighty_six": {"item": "ipa", "available": False},
    "clock_in": {},
    "clock_out": {},
    "no_sale": {},
    "open_day": {},
    "close_day": {},
    "check_numbered": {"check": "7QK-5D", "number": 1},
    "checks_numbered": {"numbers": [{"check": "7QK-5D", "number": 1}]},
    "catalog_update": {"catalog": sample_catalog(version=2)},
    "synced": {"acks": []},
}
ACTORS = {role: sid for sid, (_name, role) in SAMPLE_STAFF_ROLES.items()} | {SYSTEM: "@sync"}


def test_minimal_bodies_cover_every_command() -> None:
    assert set(MINIMAL) == set(ALLOWED_ROLES)


@pytest.mark.parametrize("ctype", sorted(ALLOWED_ROLES))
def test_roles_outside_the_table_are_forbidden(ctype: str) -> None:
    till = Till()
    for role, actor in sorted(ACTORS.items()):
        outcome = till.submit(ctype, by=actor, **MINIMAL[ctype])
        code = outcome.error.code if outcome.error else None
        if role in ALLOWED_ROLES[ctype]:
            assert code != "forbidden", (ctype, role, outcome.error)
        else:
            assert code == "forbidden", (ctype, role, outcome)
