"""A whole service on real terminals: touches on Kivy windows, a live 3-node cluster.

Terminal A embeds node n1, terminal B embeds n2 and n3 runs headless, so every
write crosses a real Raft cluster on loopback. The ledger is read through the
control socket of the headless node, never through the apps.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.present import TIMES
from tests.support.cluster import Cluster, wait_for
from tests.support.procs import ProcessReaper
from tests.support.ui import UiApp
from tests.terminal.flows import add_item, login, money, open_check, the_check

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]


def pins(cluster: Cluster) -> dict[str, str]:
    return {login.staff_id: login.pin for login in cluster.logins}


def test_a_check_opened_on_one_terminal_is_finished_and_paid_on_another(
    tmp_path: Path, reaper: ProcessReaper, terminal: Callable[..., UiApp]
) -> None:
    cluster = Cluster(tmp_path / "site", reaper, nodes=3)
    cluster.start(["n3"], wait=True)
    a = terminal(cluster.data("n1"), "A")
    b = terminal(cluster.data("n2"), "B", size=(1024, 768))
    ana = pins(cluster)["s-ana"]
    ledger = cluster.client("n3")

    # Terminal A: log in, open table 12 for 3, a burger with modifiers for seat 1, fire.
    a.screenshot("01-login")
    login(a, ana)
    a.screenshot("02-floor-empty")
    open_check(a, "12", guests=3)
    a.tap(id="seat_1")
    a.tap("Mains")
    a.tap("Copper burger", contains=True)
    a.wait(id="add")
    a.tap("Medium rare")
    a.tap("Add bacon", contains=True)
    a.screenshot("03-modifiers")
    a.tap(id="add")
    a.wait(f"1 {TIMES} Copper burger", contains=True)
    a.tap(id="seat_2")
    add_item(a, "Drinks", "House IPA")
    a.wait(f"1 {TIMES} House IPA", contains=True)
    a.screenshot("04-check-new-lines")
    a.tap(id="fire_all")
    a.wait("FIRED", contains=True)

    check = the_check(ledger, "12")
    assert check["server"] == "s-ana" and check["guests"] == 3
    burger = next(ln for ln in check["lines"] if ln["item"] == "burger")
    assert [m["id"] for m in burger["modifiers"]] == ["mod-mrare", "mod-bacon"]
    assert burger["seat"] == 1 and burger["status"] == "fired"
    assert all(ln["status"] == "fired" for ln in check["lines"])
    # The temporary ID is on screen with its "not synced" mark (no cloud here).
    a.wait(check["id"], contains=True)
    a.wait("not synced", contains=True)
    a.screenshot("05-check-fired")

    # Terminal B (1024x768): the same server finds the check on the floor and adds fries.
    login(b, ana)
    b.wait("Table 12")
    b.screenshot("06-floor-on-b")
    b.tap("Table 12")
    b.wait(f"1 {TIMES} Copper burger", contains=True)
    b.tap(id="seat_1")
    add_item(b, "Sides", "Fries", ("Truffle oil",))
    b.wait(f"1 {TIMES} Fries", contains=True)
    a.wait(f"1 {TIMES} Fries", contains=True)  # and A shows it without a tap
    b.tap(id="fire_all")
    check = the_check(ledger, "12")
    total = check["totals"]["total"]
    b.wait(f"Due {money(total)}")
    b.screenshot("07-check-on-b")

    # Pay cash on B with 100.00 handed over; the change comes from the ledger's outcome.
    b.tap(id="pay_button")
    b.wait(id="pad")
    for digit in "10000":
        b.tap(digit)
    b.wait(f"Amount  {money(10000)}")
    b.screenshot("08-pay-keyed")
    b.tap("Cash", index=0)
    b.wait("Change")
    check = the_check(ledger, "12")
    (payment,) = check["payments"]
    assert payment["tender"] == "cash" and payment["tendered"] == 10000
    assert payment["change"] == 10000 - total and check["totals"]["balance"] == 0
    b.wait(money(payment["change"]))
    b.screenshot("09-paid-change-due")
    b.tap(id="back")
    b.tap(id="receipt_button")
    b.wait("Balance", contains=True)
    b.screenshot("10-receipt")
    b.tap("Done")
    b.tap(id="close_button")
    b.wait(id="new_check")
    check = the_check(ledger, "12")
    assert check["status"] == "closed" and len(check["payments"]) == 1
    a.wait("Table 12", gone=True)  # gone from A's floor too once A goes back to it
    b.tap(id="dot")
    b.wait("LEADER", contains=True)
    b.screenshot("11-status-panel")
    b.tap(id="close_panel")
    cluster.converged()


def test_killing_the_leader_during_a_payment_takes_the_money_once(
    tmp_path: Path, reaper: ProcessReaper, terminal: Callable[..., UiApp]
) -> None:
    cluster = Cluster(tmp_path / "site", reaper, nodes=3)
    # n2 and n3 elect a leader first, so the terminal's own node (n1) joins as a follower.
    cluster.start(["n2", "n3"])
    leader = cluster.leader()
    survivor = "n3" if leader == "n2" else "n2"
    app = terminal(cluster.data("n1"), "A")
    login(app, pins(cluster)["s-ben"])
    open_check(app, "7")
    add_item(app, "Mains", "Grilled salmon")
    app.wait(f"1 {TIMES} Grilled salmon", contains=True)
    app.tap(id="pay_button")
    app.wait(id="pad")
    for digit in "5000":
        app.tap(digit)
    app.wait(f"Amount  {money(5000)}")

    # Freeze the leader, tap Cash (the payment is now in flight to a leader that
    # cannot answer), then kill it: the cluster elects another and the terminal's
    # node re-sends the same command there.
    cluster.procs[leader].send_signal(signal.SIGSTOP)
    app.tap("Cash", index=0)
    time.sleep(0.3)
    cluster.kill(leader)
    ledger = cluster.client(survivor)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        texts = app.texts()
        if "Change" in texts:
            break
        if "Retry" in texts:  # not confirmed in time: the same command is sent again
            app.screenshot("payment-retry")
            app.tap(id="notice_action")
        time.sleep(0.2)
    app.wait("Change", timeout=5)
    app.screenshot("payment-after-failover")
    check = wait_for("the payment on the survivor", lambda: the_check(ledger, "7"), 10)
    assert len(check["payments"]) == 1, check["payments"]
    assert check["payments"][0]["change"] == 5000 - check["totals"]["total"]
    app.wait(money(check["payments"][0]["change"]))
    app.tap(id="close_check")
    app.wait(id="new_check")
    assert the_check(ledger, "7")["status"] == "closed"


def test_a_cut_off_terminal_says_so_keeps_the_order_and_retries_it_once(
    tmp_path: Path, reaper: ProcessReaper, terminal: Callable[..., UiApp]
) -> None:
    cluster = Cluster(tmp_path / "site", reaper, nodes=3)
    cluster.start(["n2", "n3"])
    cluster.leader()
    app = terminal(cluster.data("n1"), "A")
    login(app, pins(cluster)["s-ana"])
    open_check(app, "4")
    ledger_check = the_check(cluster.client("n2"), "4")

    # Both other devices die: this one cannot reach a quorum, and its dot says so.
    cluster.kill("n2")
    cluster.kill("n3")
    app.wait("Cut off from the other devices", timeout=10)
    add_item(app, "Drinks", "House IPA", acknowledged=False)
    # The line is on the check at once, marked as not acknowledged yet ...
    app.wait(f"1 {TIMES} House IPA  SENDING", contains=True, timeout=5)
    app.screenshot("cut-off-sending")
    app.wait("can't reach the other devices", contains=True, timeout=15)
    app.wait("Retry")
    # ... and, once the site could not acknowledge it, kept and marked so: not lost.
    app.wait(f"1 {TIMES} House IPA  NOT CONFIRMED", contains=True)
    app.screenshot("cut-off-not-saved")

    # They come back; Retry sends the very same command: the IPA is on the check once.
    cluster.start(["n2", "n3"])
    app.wait("Offline: selling continues", timeout=30)
    app.tap("Retry")
    app.wait("NOT CONFIRMED", contains=True, gone=True, timeout=15)
    app.wait("SENDING", contains=True, gone=True, timeout=15)
    app.wait(f"1 {TIMES} House IPA", contains=True)
    texts = app.texts()
    # One row: its text is on the row and on the label inside it, so twice.
    rows = [t for t in texts if t.startswith(f"1 {TIMES} House IPA")]
    assert rows == [f"1 {TIMES} House IPA  NEW"] * 2, texts  # the row became the ledger's line
    app.screenshot("cut-off-retried")
    cluster.converged(timeout=30)
    check = the_check(cluster.client("n3"), "4")
    assert check["id"] == ledger_check["id"]
    assert [line["item"] for line in check["lines"]] == ["ipa"]


def test_split_by_seat_makes_a_new_check_with_this_devices_id(
    tmp_path: Path, reaper: ProcessReaper, terminal: Callable[..., UiApp]
) -> None:
    cluster = Cluster(tmp_path / "site", reaper, nodes=3)
    cluster.start(["n2", "n3"], wait=True)
    a = terminal(cluster.data("n1"), "A")
    ledger = cluster.client("n3")
    login(a, pins(cluster)["s-ana"])
    open_check(a, "5")
    a.tap(id="seat_1")
    add_item(a, "Drinks", "House IPA")
    a.tap(id="seat_2")
    add_item(a, "Sides", "Fries", ("Truffle oil",))  # fries always ask for modifiers
    a.wait(f"1 {TIMES} Fries", contains=True)
    original = the_check(ledger, "5")["id"]
    a.tap(id="split_button")
    a.tap("Seat 2")

    def both() -> list[dict[str, object]] | None:
        mine = [c for c in ledger.checks(all=True)["checks"] if c["table"] == "5"]
        return mine if len(mine) == 2 else None

    checks = wait_for("the split's new check", both, 20)
    (new,) = [c for c in checks if c["id"] != original]
    assert str(new["id"]).split("-")[0] == original.split("-")[0]  # made by this device
    lines = ledger.checks(check=str(new["id"]))["check"]["lines"]
    assert [(ln["item"], ln["seat"]) for ln in lines] == [("fries", 2)]
    a.screenshot("split-done")
