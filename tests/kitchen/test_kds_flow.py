"""A table fired from a terminal reaches the right KDS windows; bump and recall go everywhere.

A refire from the terminal comes back as new tickets marked REFIRE, with the reason.

A live site: three terminal nodes (the voters) and three KDS apps, each with its
own node inside (two on the grill, one on expo). The terminal's commands go
through ``ControlClient``, as the terminal app's would; the cook works the KDS
with real touches and bump-bar keys.
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

pytestmark = [pytest.mark.ui, pytest.mark.timeout(180)]

KEY_R, KEY_A, KEY_1 = 114, 97, 49


def names_on(state: dict[str, Any], ticket: str) -> list[str]:
    return [i["name"] for i in state["tickets"].get(ticket, [])]


def test_fire_bump_recall_across_screens(
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
    for name in ("k2", "k3"):
        scenario.bump_without_login(cluster.data(name))
    cluster.start(["n1", "n2", "n3"])
    screens = {n: kds_factory(cluster.data(n), None) for n in ("k1", "k2", "k3")}
    for kds in screens.values():
        kds.ready()
    grill1, grill2, expo = screens["k1"], screens["k2"], screens["k3"]

    # A quiet screen builds its spare cards ahead (kitchen/screens/rail.py, SPARE_CARDS).
    ahead = expo.wait_for("spare cards built ahead", lambda s: s["spare_cards"] == 4, 20)

    terminal = cluster.client("n2")
    check = scenario.open_check(terminal, "12")
    scenario.order(terminal, check, scenario.TABLE_12)
    fired = scenario.fire(terminal, check)
    grill_ticket = terminal.tickets(station="grill")["tickets"][0]["id"]
    expo_ticket = fired[-1]  # the expo ticket comes last (docs/commands.md, fire)

    # The grill gets only its items; expo the whole order; the other stations theirs.
    for kds in (grill1, grill2):
        state = kds.wait_for("the grill ticket", lambda s: grill_ticket in s["order"])
        assert names_on(state, grill_ticket) == ["Ribeye 14oz", "Copper burger"]
        assert state["order"] == [grill_ticket]  # once, and nothing else
    state = expo.wait_for("the expo ticket", lambda s: expo_ticket in s["order"])
    assert names_on(state, expo_ticket) == ["Ribeye 14oz", "Copper burger", "Fries", "House IPA"]
    assert state["order"] == [expo_ticket]
    # Its card was one built ahead: none was built while the ticket waited for its frame.
    assert state["cards_made"] == ahead["cards_made"], (state["cards_made"], ahead["cards_made"])
    fry = terminal.tickets(station="fry")["tickets"]
    assert [[i["name"] for i in t["items"]] for t in fry] == [["Fries"]]

    # The first grill cook logs in with a PIN, on the touch keypad.
    pin = next(x.pin for x in cluster.logins if x.staff_id == scenario.KITCHEN_STAFF)
    grill1.do("tap_id", id="staff_button")
    grill1.wait_for("the PIN pad", lambda s: s["screen"] == "login", 5)
    for digit in pin:
        grill1.do("tap_text", text=digit)
    grill1.do("tap_text", text="OK")
    grill1.wait_for("the cook's shift", lambda s: s["staff"] == scenario.KITCHEN_STAFF)

    # Bump one item by tapping it: both grill screens show it done; expo sees it ready.
    ribeye_line = next(
        i["line"] for i in grill1.state()["tickets"][grill_ticket] if i["name"] == "Ribeye 14oz"
    )
    grill1.do("tap_item", ticket=grill_ticket, line=ribeye_line)
    for kds in (grill1, grill2):
        kds.wait_for(
            "the ribeye bumped",
            lambda s: s["tickets"][grill_ticket][0]["state"] == "bumped",
        )

    # A void after fire is struck through on the grill, marked on the ticket.
    burger_line = next(
        i["line"] for i in grill1.state()["tickets"][grill_ticket] if i["name"] == "Copper burger"
    )
    scenario.ok(
        terminal.submit(
            {"type": "void_item", "by": "s-ana", "check": check, "line": burger_line,
             "reason": "guest changed their mind", "approved_by": scenario.MANAGER}
        )
    )  # fmt: skip
    for kds in (grill1, grill2):
        state = kds.wait_for(
            "the void struck through",
            lambda s: s["tickets"][grill_ticket][1]["state"] == "voided",
        )
        card = next(c for c in state["shown"] if c["id"] == grill_ticket)
        assert "VOID AFTER FIRE" in card["flags"]
        assert "[s]" in card["items"][1]["text"]
    grill2.screenshot(artifacts_dir / "kitchen-grill-void.png")
    # Bump the whole ticket with the BUMP button: it leaves every grill screen.
    grill1.do("tap_bump", ticket=grill_ticket)
    for kds in (grill1, grill2):
        kds.wait_for("the ticket to leave", lambda s: grill_ticket not in s["order"])
    state = expo.wait_for(
        "expo to see the grill done",
        lambda s: (
            "Ready: Grill" in next(c["stations"] for c in s["shown"] if c["id"] == expo_ticket)
        ),
    )
    expo.screenshot(artifacts_dir / "kitchen-expo.png")

    # Recall from the second grill screen with the bump bar: r, then 1.
    grill2.do("key", key=KEY_R, text="r")
    grill2.wait_for("the recall list", lambda s: s["recall"][:1] == [grill_ticket])
    grill2.screenshot(artifacts_dir / "kitchen-recall.png")
    grill2.do("key", key=KEY_1, text="1")
    for kds in (grill1, grill2):
        state = kds.wait_for("the ticket back", lambda s: s["order"] == [grill_ticket])
        assert [i["state"] for i in state["tickets"][grill_ticket]] == ["new", "voided"]

    # All day on expo: the whole kitchen's outstanding items.
    expo.do("key", key=KEY_A, text="a")
    state = expo.wait_for("the all-day counts", lambda s: len(s["all_day"]) > 0)
    counts = {row["name"]: row["count"] for row in state["all_day"]}
    assert counts == {"Fries": "2", "House IPA": "2", "Ribeye 14oz": "1"}
    expo.screenshot(artifacts_dir / "kitchen-all-day.png")

    # The guest sends the ribeye back: the terminal refires it. Every grill screen gets a
    # new ticket marked REFIRE with the reason; expo a refire ticket of its own.
    refire = scenario.ok(
        terminal.submit(
            {"type": "refire", "by": "s-ana", "check": check, "lines": [ribeye_line],
             "reason": "sent back: overcooked"}
        )
    )  # fmt: skip
    grill_refire, expo_refire = refire["tickets"]
    for kds in (grill1, grill2):
        state = kds.wait_for(
            "the refire ticket", lambda s: s["order"] == [grill_ticket, grill_refire]
        )
        assert names_on(state, grill_refire) == ["Ribeye 14oz"]
        card = next(c for c in state["shown"] if c["id"] == grill_refire)
        assert card["flags"].startswith("REFIRE: sent back: overcooked")
        original = next(c for c in state["shown"] if c["id"] == grill_ticket)
        assert "REFIRE" not in original["flags"]
    grill1.screenshot(artifacts_dir / "kitchen-refire.png")
    state = expo.wait_for("the expo refire", lambda s: expo_refire in s["order"])
    card = next(c for c in state["shown"] if c["id"] == expo_refire)
    assert card["flags"].startswith("REFIRE") and "Waiting: Grill" in card["stations"]
