"""Check rules: open, order, void, fire, hold, pay, close, reopen, transfer, split, comp."""

from __future__ import annotations

from typing import Any

from cloud import schemas as cloud_schemas
from mesh.ledger.commands import MAX_CHECK_LIST
from mesh.ledger.money import check_totals
from mesh.ledger.queries import find_check
from tests.ledger.ledger_harness import Till

BURGER = {"item": "burger", "modifiers": ["mod-medium"], "seat": 1}


def balance(till: Till, check: str) -> int:
    rec = till.state.find_check(check)
    assert rec is not None
    return check_totals(rec).balance


# -- open_check ------------------------------------------------------------


def test_open_check_records_table_guests_server_and_day() -> None:
    till = Till()
    check = till.open(table="12", guests=4)
    view = find_check(till.state, check)
    assert view is not None
    assert (view["table"], view["guests"], view["server"], view["status"]) == (
        "12",
        4,
        "s-ana",
        "open",
    )
    assert view["number"] is None and view["total"] == 0 and view["balance"] == 0
    assert view["business_day"] == "2025-11-23"


def test_digits_int_cannot_read_are_not_numbers() -> None:
    # str.isdigit takes "¹" and "²", int() does not: each was an internal error, the
    # same on every node, where it is a plain refusal.
    till = Till()
    assert till.err("invalid", "pay", check="¹", tender="cash")
    assert till.err("invalid", "close_day", by="m-eve", day="2025-¹1-01")
    fullwidth = "\uff15" * 8  # eight fullwidth 5s
    assert till.err("invalid", "attach_loyalty", check=till.open(), phone=fullwidth)
    assert till.state.find_check("²") is None


def test_open_check_errors() -> None:
    till = Till()
    check = till.open()
    assert "already exists" in till.err("conflict", "open_check", check=check, table="1").message
    bad = till.err("invalid", "open_check", check="7QK-4G", table="1")  # wrong check symbol
    assert "not a valid temporary check ID" in bad.message
    assert till.err("invalid", "open_check", check=till.new_check_id(), table="1", server="k-dev")
    assert till.err("forbidden", "open_check", by="k-dev", check=till.new_check_id(), table="1")
    assert till.err("not_found", "open_check", by="nobody", check=till.new_check_id(), table="1")


def test_nothing_works_before_the_catalog() -> None:
    till = Till(catalog=False)
    err = till.err("no_catalog", "open_check", check=till.new_check_id(), table="1")
    assert "catalog" in err.message


def test_server_may_open_for_another_server() -> None:
    till = Till()
    check = till.new_check_id()
    till.ok("open_check", by="m-eve", check=check, table="3", server="s-ben")
    assert till.state.checks[check]["server"] == "s-ben"


# -- add_items ------------------------------------------------------------


def test_add_items_prices_from_the_catalog_with_modifiers() -> None:
    till = Till()
    check = till.open()
    (line,) = till.add(
        check,
        {"item": "burger", "qty": 2, "modifiers": ["mod-bacon", "mod-cheese"], "note": "no salt"},
    )
    rec = till.state.checks[check]["lines"][0]
    assert rec["id"] == line and rec["unit_price"] == 1850 + 250 + 150 and rec["qty"] == 2
    assert [m["name"] for m in rec["modifiers"]] == ["Add bacon", "Add cheddar"]
    assert rec["note"] == "no salt" and rec["station"] == "grill" and rec["status"] == "new"


def test_add_items_errors() -> None:
    till = Till()
    check = till.open()
    assert (
        "no menu item 'lobster'"
        in till.err("not_found", "add_items", check=check, items=[{"item": "lobster"}]).message
    )
    assert (
        "does not go with"
        in till.err(
            "invalid", "add_items", check=check, items=[{"item": "ipa", "modifiers": ["mod-bacon"]}]
        ).message
    )
    assert till.err("invalid", "add_items", check=check, items=[])
    assert till.err("not_found", "add_items", check="7QK-5D", items=[{"item": "ipa"}])
    # One bad item refuses the whole command: the good one is not added either.
    till.err("not_found", "add_items", check=check, items=[{"item": "ipa"}, {"item": "x"}])
    assert till.state.checks[check]["lines"] == []


def test_86d_item_is_refused() -> None:
    till = Till()
    check = till.open()
    till.ok("eighty_six", by="k-dev", item="ribeye", available=False)
    err = till.err("item_86d", "add_items", check=check, items=[{"item": "ribeye"}])
    assert err.message == "item 'Ribeye 14oz' is 86'd"
    till.ok("eighty_six", by="k-dev", item="ribeye", available=True)
    till.add(check, {"item": "ribeye"})


# -- void_item ------------------------------------------------------------


def test_void_before_fire_needs_no_manager() -> None:
    till = Till()
    check = till.open()
    (line,) = till.add(check, BURGER)
    till.ok("void_item", check=check, line=line, reason="wrong table")
    assert balance(till, check) == 0
    assert till.err("conflict", "void_item", check=check, line=line, reason="again")
    assert till.err("not_found", "void_item", check=check, line="L99", reason="x")


def test_void_after_fire_needs_a_managers_approval() -> None:
    till = Till()
    check = till.open()
    (line,) = till.add(check, BURGER)
    till.ok("fire", check=check)
    err = till.err("approval_required", "void_item", check=check, line=line, reason="cold")
    assert err.message == "manager approval required to void a fired item"
    not_manager = till.err(
        "approval_required", "void_item", check=check, line=line, reason="cold", approved_by="s-ben"
    )
    assert "Ben is not a manager" in not_manager.message
    till.ok("void_item", check=check, line=line, reason="cold", approved_by="m-eve")
    (record,) = [a for a in till.state.audit if a["action"] == "void_item"]
    assert record["approved_by"] == "m-eve" and record["amount"] == 1850
    # The kitchen sees it struck through on the station and expo tickets.
    states = [i["state"] for t in till.state.tickets.values() for i in t["items"]]
    assert states == ["voided", "voided"]


def test_a_manager_voids_without_a_second_approval() -> None:
    till = Till()
    check = till.open(by="m-eve")
    (line,) = till.add(check, BURGER, by="m-eve")
    till.ok("fire", by="m-eve", check=check)
    till.ok("void_item", by="m-eve", check=check, line=line, reason="cold")


def test_void_that_would_overpay_the_check_is_refused() -> None:
    till = Till()
    check = till.open()
    burger, _soda = till.add(check, BURGER, {"item": "soda"})
    till.ok("pay", check=check, tender="cash", amount=2000)
    err = till.err("conflict", "void_item", check=check, line=burger, reason="x")
    assert "overpaid" in err.message


# -- fire and hold ------------------------------------------------------------


def test_fire_skips_held_courses_until_fired_by_course() -> None:
    till = Till()
    check = till.open()
    starter, main = till.add(check, {"item": "wings"}, {"item": "ribeye", "course": 2})
    till.ok("hold_course", check=check, course=2)
    assert till.err("conflict", "hold_course", check=check, course=2)
    assert till.ok("fire", check=check)["lines"] == [starter]
    assert "nothing to fire" in till.err("conflict", "fire", check=check).message
    assert till.ok("fire", check=check, course=2)["lines"] == [main]
    assert till.state.checks[check]["held_courses"] == []


def test_fire_needs_something_new() -> None:
    till = Till()
    check = till.open()
    till.err("conflict", "fire", check=check)


# -- pay ------------------------------------------------------------


def test_cash_gives_change_and_tips_do_not_touch_the_balance() -> None:
    till = Till()
    check = till.open()
    till.add(check, BURGER)  # 18.50 + 1.64 tax = 20.14
    result = till.ok("pay", check=check, tender="cash", tendered=5000, tip=300)
    assert (result["amount"], result["tip"], result["change"], result["balance"]) == (
        2014,
        300,
        5000 - 2014 - 300,
        0,
    )


def test_partial_payments_across_tenders() -> None:
    till = Till()
    check = till.open()
    till.add(check, BURGER)
    till.ok("pay", check=check, tender="voucher", amount=1000)
    assert balance(till, check) == 1014
    till.ok("pay", check=check, tender="cash", tendered=2000)
    assert balance(till, check) == 0
    assert "nothing due" in till.err("conflict", "pay", check=check, tender="cash").message


def test_pay_errors() -> None:
    till = Till()
    check = till.open()
    till.add(check, BURGER)
    assert till.err("not_found", "pay", check=check, tender="bitcoin")
    over = till.err("exceeds_balance", "pay", check=check, tender="cash", amount=5000)
    assert over.message == f"payment 50.00 is more than the 20.14 due on check {check}"
    short = till.err("invalid", "pay", check=check, tender="cash", tendered=1000)
    assert "less than 20.14" in short.message
    assert (
        "only cash gives change"
        in till.err("invalid", "pay", check=check, tender="voucher", tendered=9000).message
    )
    assert till.err("forbidden", "pay", by="k-dev", check=check, tender="cash")


def test_a_check_holds_no_more_lines_or_payments_than_the_cloud_takes() -> None:
    # The cloud refuses a check of more than 1000 lines or payments, and the sync waits
    # behind a refused check: the ledger refuses the 1001st instead, and nothing of it.
    assert MAX_CHECK_LIST == cloud_schemas.MAX_LIST
    till = Till()
    check = till.open()
    for _ in range(MAX_CHECK_LIST // 100):
        till.add(check, *[BURGER] * 100)
    err = till.err("invalid", "add_items", check=check, items=[BURGER])
    assert (
        err.message
        == f"check {check} can hold at most 1000 lines (it has 1000): open another check"
    )
    assert len(till.state.checks[check]["lines"]) == MAX_CHECK_LIST
    other = till.open(table="13")
    for _ in range(MAX_CHECK_LIST // 100 - 1):
        till.add(other, *[BURGER] * 100)
    till.add(other, *[BURGER] * 99)
    assert till.err("invalid", "add_items", check=other, items=[BURGER] * 2)  # all or nothing
    assert len(till.state.checks[other]["lines"]) == MAX_CHECK_LIST - 1
    till.add(other, BURGER)
    for _ in range(MAX_CHECK_LIST):
        till.ok("pay", check=check, tender="voucher", amount=1)
    err = till.err("invalid", "pay", check=check, tender="voucher", amount=1)
    assert "at most 1000 payments" in err.message
    assert len(till.state.checks[check]["payments"]) == MAX_CHECK_LIST


def test_cloud_tenders_are_refused_without_an_authorization() -> None:
    till = Till()
    check = till.open()
    till.add(check, BURGER)
    for tender in ("card", "gift", "account"):
        err = till.err("requires_cloud", "pay", check=check, tender=tender)
        assert "take cash or another tender" in err.message
    # The refusal is the same whether or not the cloud is up, so it must not say the
    # connection is the problem: it says what is missing.
    card = till.err("requires_cloud", "pay", check=check, tender="card")
    assert card.message == (
        "Card needs an authorization (the approval code the payment terminal gave): "
        "without one, take cash or another tender"
    )
    till.ok("pay", check=check, tender="card", authorization="AUTH-123")
    assert balance(till, check) == 0


# -- close / reopen ------------------------------------------------------------


def test_close_only_when_fully_paid_and_then_nothing_changes() -> None:
    till = Till()
    check = till.open()
    (line,) = till.add(check, BURGER)
    assert till.err("balance_due", "close_check", check=check).message == (
        f"check {check} has 20.14 due"
    )
    till.ok("pay", check=check, tender="cash")
    till.ok("close_check", check=check)
    closed = f"check {check} is closed"
    cases: list[tuple[str, dict[str, Any]]] = [
        ("add_items", {"items": [{"item": "ipa"}]}),
        ("void_item", {"line": line, "reason": "x"}),
        ("fire", {}),
        ("hold_course", {"course": 2}),
        ("pay", {"tender": "cash", "amount": 1}),
        ("close_check", {}),
        ("transfer_check", {"to_table": "9"}),
        ("split_check", {"parts": [{"new_check": till.new_check_id(), "lines": [line]}]}),
        ("comp", {"line": line, "reason": "x", "approved_by": "m-eve"}),
    ]
    for ctype, fields in cases:
        assert till.err("check_closed", ctype, check=check, **fields).message == closed


def test_an_empty_check_closes() -> None:
    till = Till()
    till.ok("close_check", check=till.open())


def test_reopen_needs_a_manager_and_is_audited() -> None:
    till = Till()
    check = till.open()
    assert till.err("conflict", "reopen_check", check=check, reason="x", approved_by="m-eve")
    till.ok("close_check", check=check)
    till.err("approval_required", "reopen_check", check=check, reason="forgot dessert")
    till.ok("reopen_check", check=check, reason="forgot dessert", approved_by="m-eve")
    till.add(check, {"item": "cake"})
    assert till.state.audit[-1]["action"] == "reopen_check"


# -- transfer / split ------------------------------------------------------------


def test_transfer_to_another_server_and_table_moves_open_tickets() -> None:
    till = Till()
    check = till.open()
    till.add(check, BURGER)
    till.ok("fire", check=check)
    till.ok("transfer_check", check=check, to_server="s-ben", to_table="30")
    rec = till.state.checks[check]
    assert (rec["server"], rec["table"]) == ("s-ben", "30")
    assert {t["table"] for t in till.state.tickets.values()} == {"30"}
    assert till.err("invalid", "transfer_check", check=check)
    assert till.err("invalid", "transfer_check", check=check, to_server="k-dev")
    assert till.err("not_found", "transfer_check", check=check, to_server="ghost")


def test_split_by_seat_and_by_line() -> None:
    till = Till()
    check = till.open(guests=3)
    one, two, three = till.add(
        check, {"item": "ipa", "seat": 1}, {"item": "wine", "seat": 2}, {"item": "soda", "seat": 3}
    )
    by_seat, by_line = till.new_check_id(), till.new_check_id()
    result = till.ok(
        "split_check",
        check=check,
        parts=[{"new_check": by_seat, "seats": [2]}, {"new_check": by_line, "lines": [three]}],
    )
    assert result["checks"] == [by_seat, by_line]
    assert [x["id"] for x in till.state.checks[check]["lines"]] == [one]
    assert [x["id"] for x in till.state.checks[by_seat]["lines"]] == [two]
    assert [x["id"] for x in till.state.checks[by_line]["lines"]] == [three]
    assert till.state.checks[by_seat]["split_from"] == check


def test_split_errors() -> None:
    till = Till()
    check = till.open()
    one, two = till.add(check, {"item": "ipa", "seat": 1}, {"item": "soda", "seat": 2})
    new = till.new_check_id()
    assert till.err("invalid", "split_check", check=check, parts=[{"new_check": new, "seats": [7]}])
    assert till.err(
        "invalid", "split_check", check=check, parts=[{"new_check": new, "lines": [one, two]}]
    )
    assert till.err(
        "invalid",
        "split_check",
        check=check,
        parts=[
            {"new_check": new, "lines": [one]},
            {"new_check": till.new_check_id(), "lines": [one]},
        ],
    )
    assert till.err(
        "conflict", "split_check", check=check, parts=[{"new_check": check, "lines": [one]}]
    )
    assert till.err(
        "not_found", "split_check", check=check, parts=[{"new_check": new, "lines": ["L9"]}]
    )
    till.ok("pay", check=check, tender="cash", amount=100)
    assert (
        "split it before paying"
        in till.err(
            "conflict", "split_check", check=check, parts=[{"new_check": new, "lines": [one]}]
        ).message
    )


# -- comp / loyalty ------------------------------------------------------------


def test_comp_needs_a_manager_and_counts_as_comp() -> None:
    till = Till()
    check = till.open()
    (line,) = till.add(check, {"item": "cake"})
    err = till.err("approval_required", "comp", check=check, line=line, reason="birthday")
    assert err.message == "manager approval required to comp an item"
    till.ok("comp", check=check, line=line, reason="birthday", approved_by="m-eve")
    rec = till.state.checks[check]
    totals = check_totals(rec)
    assert (totals.comps, totals.total, totals.tax) == (1100, 0, 0)
    assert till.err("conflict", "comp", check=check, line=line, reason="again", approved_by="m-eve")


def test_loyalty_identity_is_captured_offline() -> None:
    till = Till()
    check = till.open()
    result = till.ok("attach_loyalty", check=check, phone="+1 (555) 010-2030", email="A@B.example")
    assert result["loyalty"] == {"phone": "+15550102030", "email": "a@b.example"}
    assert till.err("invalid", "attach_loyalty", check=check)
    assert till.err("invalid", "attach_loyalty", check=check, phone="call me")
    assert till.err("invalid", "attach_loyalty", check=check, email="nobody")
    till.ok("close_check", check=check)
    till.ok("attach_loyalty", check=check, email="late@b.example")  # after paying is fine
