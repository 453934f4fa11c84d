"""A cook refires from the KDS: from the recall list, and by holding an item on the rail.

A live site: three terminal nodes (the voters) and three KDS apps with their own
nodes (two on the grill, one on expo). The terminal fires a table through
``ControlClient``; the grill cook bumps it, then refires the ribeye from the
recall list with a reason. The refire ticket must show on both grill screens and
on expo exactly once, and be the ledger's refire of the original ticket.

Then a second refire is tried while two voters are down: the screen says it was
not saved and keeps the cook's choice; once the voters are back the same tap
sends it again, and the ledger still holds it once (the retry reuses the
command id). Last, a refire of an item voided meanwhile is refused in words.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.kitchen import scenario
from tests.kitchen.harness import Kds
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.ui, pytest.mark.timeout(300)]

KEY_R = 114
VOTERS = ("n1", "n2", "n3")


def refire_tickets(tickets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tickets if t["refire"]]


def test_refire_from_the_kds_reaches_every_screen_once(
    tmp_path: Path,
    reaper: ProcessReaper,
    kds_factory: Callable[..., Kds],
    artifacts_dir: Path,
) -> None:
    cluster = Cluster(
        tmp_path / "site",
        reaper,
        devices=scenario.devices({"k1": "grill", "k2": "grill", "k3": "expo"}),
    )
    for name in ("k2", "k3"):  # k1 asks for a PIN, as a screen with a keypad does
        scenario.bump_without_login(cluster.data(name))
    cluster.start(list(VOTERS))
    screens = {n: kds_factory(cluster.data(n), None) for n in ("k1", "k2", "k3")}
    for kds in screens.values():
        kds.ready()
    grill1, grill2, expo = screens["k1"], screens["k2"], screens["k3"]
    grills = (grill1, grill2)

    terminal = cluster.client("n2")
    check = scenario.open_check(terminal, "12")
    scenario.order(terminal, check, scenario.TABLE_12)
    fired = scenario.fire(terminal, check)
    (original,) = terminal.tickets(station="grill")["tickets"]
    grill_ticket, expo_ticket = original["id"], fired[-1]
    ribeye, burger = (i["line"] for i in original["items"])

    # The cook bumps the grill ticket with a touch: it leaves both grill screens.
    grill2.wait_for("the grill ticket", lambda s: s["order"] == [grill_ticket])
    grill2.do("tap_bump", ticket=grill_ticket)
    for kds in grills:
        kds.wait_for("the bump", lambda s: s["order"] == [], 20)

    # The ribeye is dropped: recall list, REFIRE on the bumped ticket.
    grill2.do("key", key=KEY_R, text="r")
    grill2.wait_for("the recall list", lambda s: s["recall"] == [grill_ticket])
    grill2.screenshot(artifacts_dir / "kitchen-recall.png")
    grill2.do("tap_recall_refire", ticket=grill_ticket)
    state = grill2.wait_for("the refire screen", lambda s: s["screen"] == "refire", 5)
    # Two items: the cook must say which; nothing is chosen for them.
    assert state["refire"]["rows"] == [
        {"line": ribeye, "selected": False},
        {"line": burger, "selected": False},
    ]
    grill2.do("tap_refire_item", line=ribeye)
    grill2.do("tap_screen_id", id="send")  # no reason yet: it says so, sends nothing
    state = grill2.wait_for("a reason asked for", lambda s: s["refire"]["problem"] != "", 5)
    assert state["refire"]["problem"] == "Tap why it is cooked again first"
    grill2.do("tap_text", text="Dropped")
    state = grill2.wait_for("the choice", lambda s: s["refire"]["reason"] == "dropped", 5)
    assert state["refire"]["rows"][0] == {"line": ribeye, "selected": True}
    assert state["refire"]["send"] == "REFIRE 1 item: dropped"
    grill2.screenshot(artifacts_dir / "kitchen-refire-screen.png")
    grill2.do("tap_screen_id", id="send")
    state = grill2.wait_for("back on the rail", lambda s: s["screen"] == "rail", 20)
    assert state["message"] == "Refire sent: 1 Ribeye 14oz (dropped)"

    # The ledger: one refire ticket per station of the line, plus expo's, of the original.
    grill_now = terminal.tickets(station="grill")["tickets"]
    (refire,) = refire_tickets(grill_now)
    assert [t["id"] for t in grill_now] == [refire["id"]]  # the original stays bumped
    assert refire["refire_of"] == [grill_ticket]
    assert refire["refire_reason"] == "dropped"
    assert [(i["line"], i["state"]) for i in refire["items"]] == [(ribeye, "new")]
    (expo_refire,) = refire_tickets(terminal.tickets(station="expo")["tickets"])
    assert expo_refire["refire_of"] == [expo_ticket]
    assert [i["line"] for i in expo_refire["items"]] == [ribeye]
    lines = terminal.checks(check=check)["check"]["lines"]
    assert next(x for x in lines if x["id"] == ribeye)["tickets"][-2:] == [
        refire["id"],
        expo_refire["id"],
    ]

    # Every screen shows it once, marked as a refire with the reason.
    for kds in grills:
        state = kds.wait_for("the refire ticket", lambda s: s["order"] == [refire["id"]])
        assert state["refires"] == {refire["id"]: "dropped"}
        (card,) = state["shown"]
        assert card["flags"] == "REFIRE: dropped"
        assert [i["line"] for i in card["items"]] == [ribeye]
    state = expo.wait_for(
        "expo's refire ticket", lambda s: s["order"] == [expo_ticket, expo_refire["id"]]
    )
    assert state["refires"] == {expo_refire["id"]: "dropped"}
    card = next(c for c in state["shown"] if c["id"] == expo_refire["id"])
    assert card["flags"].startswith("REFIRE: dropped")
    assert "Waiting: Grill" in card["stations"]
    grill2.screenshot(artifacts_dir / "kitchen-refire-sent.png")
    expo.screenshot(artifacts_dir / "kitchen-expo-refire.png")

    # The refire comes out at the wrong temperature. The first grill cook holds the ribeye
    # on the refire ticket: a PIN first (this screen has no default cook), then the refire
    # screen, with that item already chosen.
    grill1.do("hold_item", ticket=refire["id"], line=ribeye, seconds=1.2)
    grill1.wait_for("the PIN pad", lambda s: s["screen"] == "login", 10)
    pin = next(x.pin for x in cluster.logins if x.staff_id == scenario.KITCHEN_STAFF)
    for digit in pin:
        grill1.do("tap_text", text=digit)
    grill1.do("tap_text", text="OK")
    state = grill1.wait_for("the refire screen", lambda s: s["screen"] == "refire", 20)
    assert state["refire"]["rows"] == [{"line": ribeye, "selected": True}]
    assert state["order"] == [refire["id"]]  # the hold bumped nothing
    grill1.do("tap_text", text="Wrong temp")

    # Two voters down: no quorum. The tap is not saved, the screen says so in words and
    # keeps the choice.
    leader = cluster.leader()
    down = [n for n in VOTERS if n != leader]
    for name in down:
        cluster.kill(name)
    grill1.do("tap_screen_id", id="send")
    state = grill1.wait_for("not saved", lambda s: s["refire"]["problem"] != "", 30)
    assert state["screen"] == "refire"
    assert state["refire"]["problem"].startswith("Not saved")
    assert "tap REFIRE again" in state["refire"]["problem"]
    assert state["refire"]["rows"] == [{"line": ribeye, "selected": True}]
    assert state["refire"]["reason"] == "wrong temp" and not state["refire"]["busy"]
    grill1.screenshot(artifacts_dir / "kitchen-refire-not-saved.png")

    # The voters come back; the cook taps REFIRE again. Whether or not the first try
    # reached the log, the ledger holds this refire once.
    cluster.start(down)
    terminal = cluster.client(cluster.leader(among=VOTERS, timeout=30))  # caught up: it leads
    grill1.wait_for("the quorum back", lambda s: s["dot"] != "cut_off" and not s["banner"], 30)
    grill1.do("tap_screen_id", id="send")
    state = grill1.wait_for("the second refire sent", lambda s: s["screen"] == "rail", 30)
    assert state["message"] == "Refire sent: 1 Ribeye 14oz (wrong temp)"
    grill_now = terminal.tickets(station="grill")["tickets"]
    assert [t["refire_reason"] for t in grill_now] == ["dropped", "wrong temp"]
    second = grill_now[1]
    assert second["refire_of"] == [grill_ticket]  # a refire of a refire names the original
    expo_refires = refire_tickets(terminal.tickets(station="expo")["tickets"])
    assert [t["refire_reason"] for t in expo_refires] == ["dropped", "wrong temp"]
    for kds in grills:
        state = kds.wait_for(
            "both refire tickets", lambda s: s["order"] == [refire["id"], second["id"]]
        )
        assert state["refires"][second["id"]] == "wrong temp"
    state = expo.wait_for("expo's second refire", lambda s: len(s["order"]) == 3)
    assert state["order"] == [expo_ticket, expo_refire["id"], expo_refires[1]["id"]]

    # A refire the ledger refuses: the cook chose the burger (bumped, off the rail) from
    # the recall list, and the manager voided it before the tap. It says why in words.
    grill2.do("key", key=KEY_R, text="r")
    grill2.wait_for("the recall list", lambda s: s["recall"] == [grill_ticket])
    grill2.do("tap_recall_refire", ticket=grill_ticket)
    grill2.wait_for("the refire screen", lambda s: s["screen"] == "refire", 5)
    grill2.do("tap_refire_item", line=burger)
    grill2.do("tap_text", text="Sent back")
    grill2.wait_for("the choice", lambda s: s["refire"]["reason"] == "sent back", 5)
    scenario.ok(
        terminal.submit(
            {"type": "void_item", "by": "s-ana", "check": check, "line": burger,
             "reason": "guest left it", "approved_by": scenario.MANAGER}
        )
    )  # fmt: skip
    grill2.do("tap_screen_id", id="send")
    state = grill2.wait_for("the refusal", lambda s: s["refire"]["problem"] != "", 20)
    assert state["refire"]["problem"] == ("Not refired: Copper burger is voided: nothing to refire")
    assert state["screen"] == "refire"
    grill2.screenshot(artifacts_dir / "kitchen-refire-refused.png")
    assert len(refire_tickets(terminal.tickets(station="grill")["tickets"])) == 2
