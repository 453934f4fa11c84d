"""The terminal's other screens, by touch, on a one-device site (its node is the whole cluster).

First run without an identity, the PIN pad (clock in, wrong PINs, lockout), an
86'd item, a void that needs a manager's PIN, a card taken with the card terminal's
approval code (no cloud at all), the manager's day summary and closing the day.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mesh.client.api import ControlClient
from terminal.present import TIMES
from tests.support.cluster import Cluster, wait_for
from tests.support.procs import ProcessReaper
from tests.support.ui import UiApp
from tests.terminal.flows import add_item, login, money, open_check, the_check

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

WRONG_PIN = "0000"  # site set-up never hands out a PIN of one repeated digit


def test_a_device_without_identity_says_how_to_set_it_up(
    tmp_path: Path, terminal: Callable[..., UiApp]
) -> None:
    empty = tmp_path / "new-device"
    empty.mkdir()
    app = terminal(empty, "setup")
    app.wait("This terminal is not part of a site yet")
    app.wait("tablemesh site init", contains=True)
    assert app.find(id="enrol")["disabled"] is True
    app.screenshot("setup")
    app.tap("Quit")
    assert app.close() == 0
    assert not (empty / "raft.db").exists()  # nothing was started for a device with no identity


def test_pin_pad_menu_approvals_offline_tenders_and_the_day(
    tmp_path: Path, reaper: ProcessReaper, terminal: Callable[..., UiApp]
) -> None:
    site = Cluster(tmp_path / "site", reaper, nodes=1)
    pins = {login.staff_id: login.pin for login in site.logins}
    app = terminal(site.data("n1"), "A")
    ledger = ControlClient(site.data("n1"))

    # Clock in from the PIN pad.
    app.wait("Enter your PIN", timeout=30)
    for digit in pins["s-ana"]:
        app.tap(digit)
    app.tap(id="clock_in")
    app.wait("Ana clocked in")
    clocked = ledger.call("query", name="clocked_in")["staff"]
    assert [c["staff"] for c in clocked] == ["s-ana"]

    # The kitchen 86es the ribeye: the item is greyed and the ledger's refusal is shown.
    eighty_six = {"type": "eighty_six", "by": "m-eve", "item": "ribeye", "available": False}
    assert ledger.submit(eighty_six)["ok"]
    login(app, pins["s-ana"])
    open_check(app, "5")
    app.tap("Mains")
    app.tap("Ribeye 14oz", contains=True)
    app.wait("86'd", contains=True, index=0)
    app.wait("is 86'd", contains=True)
    app.screenshot("item-86d-refused")
    app.tap(id="notice_action")

    # Void a fired line: the ledger asks for a manager; Eve approves with her PIN.
    add_item(app, "Mains", "Half chicken")
    app.tap(id="fire_all")
    app.wait("FIRED", contains=True)
    app.tap(f"1 {TIMES} Half chicken", contains=True)
    app.tap(id="void_button")
    app.tap("Changed mind")
    app.wait("Manager approval")
    app.screenshot("void-needs-approval")
    for digit in pins["m-eve"]:
        app.tap(digit)
    app.tap("Approve")
    app.wait("VOID", contains=True)
    app.screenshot("void-struck-through")
    check = the_check(ledger, "5")
    (chicken,) = check["lines"]
    assert chicken["status"] == "voided" and chicken["void"]["approved_by"] == "m-eve"

    # Move the table: the check follows to table 15.
    app.tap(id="transfer_button")
    app.tap("1")
    app.tap("5")
    app.tap(id="transfer")
    app.wait("Table 15", contains=True)
    assert the_check(ledger, "15")["id"] == check["id"]

    # A card is taken on the card terminal: its approval code is typed here, with no
    # cloud at all on this site. Cancel sends nothing; OK pays with the code.
    add_item(app, "Drinks", "Soda")
    app.wait(f"1 {TIMES} Soda", contains=True)
    app.tap(id="pay_button")
    app.wait("Card")
    assert not [t for t in app.texts() if "internet" in t.lower()]
    app.tap(id="partial")
    for digit in "200":  # 2.00 of the soda on the card
        app.tap(digit)
    app.tap(id="edit_tip")
    for digit in "50":  # and a 0.50 tip on it
        app.tap(digit)
    app.tap("Card")
    app.wait("Card: approval code")
    app.wait("Take $2.00 + tip $0.50", contains=True)
    assert app.find(id="approval_ok")["disabled"] is True
    app.tap("Q")
    app.tap("7")
    app.wait("Q7")
    app.screenshot("card-approval-code")
    app.tap(id="approval_cancel")
    app.wait(id="approval_ok", gone=True)
    app.wait("Card")
    app.tap("Card")
    app.wait("Card: approval code")
    app.wait("Type the code from the card terminal")  # Cancel kept nothing typed
    for key in "7QX4B2":
        app.tap(key)
    app.wait("7QX4B2")
    app.tap(id="approval_ok")
    app.wait("approval 7QX4B2", contains=True)
    app.screenshot("card-paid-with-approval")
    (card,) = the_check(ledger, "15")["payments"]  # once: Cancel recorded nothing
    assert card["tender"] == "card" and card["authorization"] == "7QX4B2", card
    assert (card["amount"], card["tip"], card["change"]) == (200, 50, 0), card
    assert app.find(id="edit_amount")["state"] == "down"  # the next digits: an amount
    app.wait(money(the_check(ledger, "15")["totals"]["balance"]))  # the rest, then in cash
    app.tap("Exact")
    app.tap("Cash", index=0)
    app.wait("Change")
    app.tap(id="close_check")
    app.wait(id="new_check")
    assert the_check(ledger, "15")["status"] == "closed"

    # Reopen a closed check from the Closed list: a manager approves; then close it again.
    app.tap(id="closed")
    app.tap("Table 15")
    app.tap(id="reopen_button")
    app.tap("Add a tip")
    app.wait("Manager approval")  # else a digit may hit the check's seat buttons behind it
    for digit in pins["m-eve"]:
        app.tap(digit)
    app.tap("Approve")
    app.wait(id="close_button")
    wait_for("the check reopened", lambda: the_check(ledger, "15")["status"] == "open", 10)
    app.screenshot("reopened")
    app.tap(id="close_button")
    app.wait(id="new_check")
    assert the_check(ledger, "15")["status"] == "closed"
    app.tap(id="mine")

    # The manager screen needs a manager's PIN when a server opens it.
    app.tap(id="manager_button")
    app.wait("Manager approval")
    for digit in pins["m-eve"]:
        app.tap(digit)
    app.tap("Approve")
    app.wait("Business day", contains=True)
    app.wait("void_item", contains=True)
    assert app.find(id="enrol")["disabled"] is False  # asks for a code (test_terminal_enrol.py)
    app.screenshot("manager")
    app.tap(id="close_day")
    app.wait("is closed", contains=True)
    app.screenshot("day-closed")
    summary = ledger.call("query", name="day_summary", day=check["business_day"])["summary"]
    assert summary["status"] == "closed"

    # Wrong PINs shake and count toward the node's lockout.
    app.tap(id="lock_button")
    for attempt in range(6):
        for digit in WRONG_PIN:
            app.tap(digit)
        app.tap("OK")
        expected = "Wrong PIN" if attempt < 5 else "Too many wrong PINs"
        app.wait(expected, contains=True)
    app.screenshot("pin-locked")
    assert app.find(id="pad")["disabled"] is True
    wait_for(
        "the node to report the lockout",
        lambda: ledger.call("login", pin=WRONG_PIN)["error"]["code"] == "locked",
        5,
    )
