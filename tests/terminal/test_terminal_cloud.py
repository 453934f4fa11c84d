"""The terminal with a real cloud: numbers replace temporary IDs, and the internet going away.

A real back office (``python -m cloud``) runs on loopback and every node of a 3-node
site has it in its config. Terminal A (node n1) is driven by touch while the cloud is
up, killed by pid (the plug pulled) and started again on the same port and database.
Nothing is mocked: the dot, the numbers and the card payment come from the nodes.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.present import TIMES
from tests.support.cluster import wait_for
from tests.support.procs import ProcessReaper
from tests.support.ui import UiApp
from tests.sync.synckit import site_with_cloud
from tests.terminal.flows import add_item, login, open_check, the_check

pytestmark = [pytest.mark.ui, pytest.mark.timeout(150)]

NUMBER_S = 30.0  # generous: sync.md promises a number within about a second while online
DOT_S = 30.0  # the agent notices a dead cloud at its next request (a probe every 2 s)


def test_numbers_arrive_online_and_selling_goes_on_while_the_cloud_is_away(
    tmp_path: Path, reaper: ProcessReaper, terminal: Callable[..., UiApp]
) -> None:
    cloud, cluster = site_with_cloud(tmp_path, reaper)
    cloud.start()
    cluster.start(["n2", "n3"])
    ledger = cluster.client("n3")
    a = terminal(cluster.data("n1"), "A")
    ana = next(s.pin for s in cluster.logins if s.staff_id == "s-ana")
    login(a, ana)
    a.wait("Online", timeout=DOT_S)

    # Online: a new check shows its temporary ID, then the cloud's number replaces it.
    open_check(a, "3")
    first = the_check(ledger, "3")
    a.wait("#", contains=True, timeout=NUMBER_S)
    number = wait_for("table 3 numbered", lambda: the_check(ledger, "3")["number"], 10)
    a.wait(f"#{number}", contains=True)
    a.wait(first["id"], contains=True, gone=True)
    a.wait("not synced", contains=True, gone=True)
    a.screenshot("01-online-numbered")

    # The internet goes: the cloud process is killed. The dot turns red, selling goes on.
    cloud.stop(signal.SIGKILL)
    a.wait("Offline: selling continues", timeout=DOT_S)
    a.tap(id="back_button")
    a.wait(id="new_check")
    open_check(a, "8")
    add_item(a, "Drinks", "House IPA")
    a.wait(f"1 {TIMES} House IPA", contains=True)
    a.tap(id="fire_all")
    a.wait("FIRED", contains=True)
    offline = the_check(ledger, "8")
    assert offline["number"] is None and offline["lines"][0]["status"] == "fired"
    a.wait(offline["id"], contains=True)
    a.wait("not synced", contains=True)
    a.screenshot("02-offline-fired")

    # A card is taken offline too: the approval code comes from the card terminal.
    a.tap(id="pay_button")
    a.wait("Card")
    assert not [t for t in a.texts() if "internet" in t.lower()]
    a.tap("Card")
    a.wait("Card: approval code")
    for key in "K29T6A":
        a.tap(key)
    a.tap(id="approval_ok")
    a.wait("approval K29T6A", contains=True)
    a.screenshot("03-offline-card-approved")
    (card,) = the_check(ledger, "8")["payments"]
    assert card["tender"] == "card" and card["authorization"] == "K29T6A", card
    a.tap(id="back")
    a.tap(id="back_button")
    a.wait(offline["id"], contains=True)
    a.wait(f"#{number}", contains=True)
    a.screenshot("04-offline-floor")

    # The internet returns: the offline check's temporary ID turns into its number.
    cloud.start()
    a.wait("Online", timeout=DOT_S)
    later = wait_for("table 8 numbered", lambda: the_check(ledger, "8")["number"], NUMBER_S)
    assert later != number
    a.wait(f"#{later}", contains=True, timeout=NUMBER_S)
    a.wait(offline["id"], contains=True, gone=True)
    a.wait("not synced", contains=True, gone=True)
    a.screenshot("05-back-online-floor")
    a.tap("Table 8")
    a.wait(f"#{later}", contains=True)
    a.wait("not synced", contains=True, gone=True)
    assert {c["number"] for c in cloud.checks()} == {number, later}
