"""Queries: JSON-able, sorted, and copies (changing a result never changes the state)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from mesh.ledger import queries
from tests.ledger.ledger_harness import MINUTE, Till


def test_open_checks_by_table_and_server_oldest_first() -> None:
    till = Till()
    a = till.open(table="1")
    b = till.open(table="2", by="s-ben")
    c = till.open(table="1", by="s-ben")
    till.ok("close_check", check=a)
    assert [x["id"] for x in queries.open_checks(till.state)] == [b, c]
    assert [x["id"] for x in queries.open_checks(till.state, table="1")] == [c]
    assert [x["id"] for x in queries.open_checks(till.state, server="s-ben", table="2")] == [b]
    assert [x["id"] for x in queries.checks_of_day(till.state, "2025-11-23")] == [a, b, c]


def test_check_dict_has_the_contract_fields() -> None:
    till = Till()
    check = till.open()
    till.add(check, {"item": "ipa"})
    view = queries.find_check(till.state, check)
    assert view is not None
    for key in ("id", "number", "table", "status", "total", "balance", "lines", "totals"):
        assert key in view
    assert view["lines"][0]["amount"] == 800


def test_results_are_json_and_copies() -> None:
    till = Till()
    check = till.open()
    till.add(check, {"item": "ribeye"})
    till.ok("fire", check=check)
    now = till.now + MINUTE
    results = [
        queries.find_check(till.state, check),
        queries.open_checks(till.state),
        queries.tickets(till.state, now_ms=now),
        queries.all_day_counts(till.state),
        queries.day_summary(till.state, now_ms=now),
        queries.audit_trail(till.state),
        queries.clocked_in(till.state),
        queries.unsynced_records(till.state),
        queries.overview(till.state, now_ms=now),
    ]
    json.dumps(results)
    before = till.state.snapshot()
    view = queries.find_check(till.state, check)
    assert view is not None
    view["lines"][0]["modifiers"].append({"id": "x"})
    queries.tickets(till.state)[0]["items"][0]["state"] = "bumped"
    assert till.state.snapshot() == before


def test_overview_for_ctl_state() -> None:
    till = Till()
    till.open()
    till.ok("clock_in", by="s-ana")
    view = queries.overview(till.state, now_ms=till.now)
    assert view["applied_index"] == till.index and view["open_checks"] == 1
    assert view["clocked_in"] == ["s-ana"] and view["catalog_version"] == 0  # the sample
    assert view["state_hash"] == till.state.state_hash()


def test_the_documented_audit_actions_are_the_audited_ones() -> None:
    # The list in docs/commands.md is what integrators filter on: an action the code
    # writes but the list leaves out (as refire was) is one they never look for.
    root = Path(__file__).resolve().parents[2]
    audited = set()
    for source in sorted((root / "mesh" / "ledger").glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "audit":
                for kw in node.keywords:
                    if kw.arg == "action" and isinstance(kw.value, ast.Constant):
                        audited.add(kw.value.value)
    docs = (root / "docs" / "commands.md").read_text(encoding="utf-8")
    listed = re.search(r"^Actions: (.*?)\.$", docs, re.MULTILINE | re.DOTALL)
    assert listed is not None
    assert set(re.findall(r"`(\w+)`", listed.group(1))) == audited
    assert "refire" in audited
