"""Staff and day: time clock, no-sale, open and close the business day, summary, audit."""

from __future__ import annotations

from mesh.ledger import queries
from tests.ledger.ledger_harness import MINUTE, Till


def test_clock_in_and_out() -> None:
    till = Till()
    entry = till.ok("clock_in", by="s-ana")["time_entry"]
    assert till.err("conflict", "clock_in", by="s-ana").message == "Ana is already clocked in"
    assert [e["staff"] for e in queries.clocked_in(till.state)] == ["s-ana"]
    out = till.ok("clock_out", by="s-ana", advance_ms=90 * MINUTE)
    assert out == {"time_entry": entry, "staff": "s-ana", "minutes": 90}
    assert till.err("conflict", "clock_out", by="s-ana").message == "Ana is not clocked in"
    assert till.state.time_entries[entry]["role"] == "server"
    assert till.err("forbidden", "clock_in", by="@sync")


def test_no_sale_needs_a_manager_and_is_audited() -> None:
    till = Till()
    err = till.err("approval_required", "no_sale", by="b-cleo")
    assert err.message == "manager approval required to open the drawer without a sale"
    till.ok("no_sale", by="b-cleo", approved_by="m-eve", reason="change for the jukebox")
    (rec,) = queries.audit_trail(till.state)[-1:]
    assert (rec["action"], rec["by"], rec["approved_by"]) == ("no_sale", "b-cleo", "m-eve")


def test_close_day_lists_the_open_checks_oldest_first_not_as_text() -> None:
    till = Till()
    checks = [till.open() for _ in range(3)]
    for check, number in zip(checks, (3, 25, 100), strict=True):
        till.ok("check_numbered", by="@sync", check=check, number=number)
    err = till.err("open_checks", "close_day", by="m-eve")
    assert err.message == "3 checks are still open for 2025-11-23: #3, #25, #100"


def test_open_day_is_for_managers_and_only_once() -> None:
    till = Till()
    assert till.err("forbidden", "open_day", by="s-ana")
    assert till.ok("open_day", by="m-eve") == {"day": "2025-11-23", "status": "open"}
    assert till.err("conflict", "open_day", by="m-eve")
    assert till.err("invalid", "open_day", by="m-eve", day="tomorrow")


def test_close_day_needs_every_check_closed_and_returns_the_summary() -> None:
    till = Till()
    check = till.open()
    till.add(check, {"item": "burger"})
    err = till.err("open_checks", "close_day", by="m-eve")
    assert err.message == f"1 check is still open for 2025-11-23: {check}"
    till.ok("pay", check=check, tender="cash", tip=200, tendered=3000)
    till.ok("close_check", check=check)
    result = till.ok("close_day", by="m-eve")
    assert result["day"] == "2025-11-23" and result["status"] == "closed"
    totals = result["totals"]
    assert totals["sales"] == 2014 and totals["tips"] == 200
    assert totals["by_tender"] == {"cash": {"count": 1, "amount": 2014, "tips": 200}}
    assert till.err("conflict", "close_day", by="m-eve", day="2025-11-23")
    assert till.err("conflict", "open_day", by="m-eve", day="2025-11-23")
    assert till.err("invalid", "close_day", by="m-eve", day="2030-01-01")
    closed = till.err("conflict", "reopen_check", by="m-eve", check=check, reason="late tip")
    assert closed.message == "business day 2025-11-23 is closed"


def test_day_summary_counts_voids_comps_tips_and_the_sync_backlog() -> None:
    till = Till()
    check = till.open()
    a, b, _c = till.add(check, {"item": "burger"}, {"item": "cake"}, {"item": "soda"})
    till.ok("void_item", check=check, line=a, reason="wrong")
    till.ok("comp", check=check, line=b, reason="late", approved_by="m-eve")
    till.ok("pay", check=check, tender="voucher", tip=100)
    first_change = till.state.sync[f"check:{check}"]["dirty_since"]
    assert first_change is not None
    summary = queries.day_summary(till.state, now_ms=till.now + 10 * MINUTE)
    assert (summary["voids"], summary["comps"], summary["tips"]) == (1850, 1100, 100)
    assert (summary["void_count"], summary["comp_count"]) == (1, 1)
    assert summary["sales"] == 350 + 31
    assert summary["unsynced"] > 0
    assert summary["oldest_unsynced_age_ms"] >= 10 * MINUTE
    assert summary["status"] == "open"


def test_audit_trail_filters_by_check() -> None:
    till = Till()
    check = till.open()
    (line,) = till.add(check, {"item": "cake"})
    till.ok("comp", check=check, line=line, reason="x", approved_by="m-eve")
    till.ok("no_sale", by="m-eve")
    assert [a["action"] for a in queries.audit_trail(till.state, check=check)] == ["comp"]
    day = queries.audit_trail(till.state, day="2025-11-23")
    assert [a["action"] for a in day] == ["catalog_update", "comp", "no_sale"]
