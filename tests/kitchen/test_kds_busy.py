"""A dinner rush on one rail: 60 open tickets, paging, bump-bar keys, colour ageing.

Tickets are fired in three waves a few seconds apart with short ageing
thresholds, so the first page shows red, yellow and green headers together. A
held course fired later and a void after fire are on the first page too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kitchen import quiet_gc
from tests.kitchen import scenario
from tests.kitchen.harness import Kds
from tests.support.cluster import Cluster

pytestmark = [pytest.mark.ui, pytest.mark.timeout(180)]

OPEN = 60
KEY_RIGHT, KEY_LEFT, KEY_2, KEY_A = 275, 276, 50, 97


def test_sixty_open_tickets_page_and_bump_by_key(
    tmp_path: Path,
    reaper: object,
    kds_factory: Callable[..., Kds],
    artifacts_dir: Path,
) -> None:
    cluster = Cluster(
        tmp_path / "site",
        reaper,  # type: ignore[arg-type]
        devices=scenario.devices({"k1": "grill", "k2": "expo"}),
    )
    for name in ("k1", "k2"):
        (cluster.data(name) / "kitchen.json").write_text(
            json.dumps({"default_staff": scenario.KITCHEN_STAFF, "warn_after_s": 5,
                        "late_after_s": 10})
        )  # fmt: skip
    cluster.start(["n1", "n2", "n3"])
    grill, expo = kds_factory(cluster.data("k1"), None), kds_factory(cluster.data("k2"), None)
    grill.ready()
    expo.ready()
    terminal = cluster.client(cluster.leader())

    first = scenario.fire_table(terminal, "14", 0)
    scenario.fire_table(terminal, "3", 1)
    time.sleep(5.5)
    held = scenario.open_check(terminal, "21")
    scenario.order(terminal, held, [{"item": "caesar"}, {"item": "ribeye", "course": 2,
                                    "modifiers": ["mod-medium"]}])  # fmt: skip
    scenario.ok(terminal.submit({"type": "hold_course", "by": "s-ana", "check": held,
                                 "course": 2}))  # fmt: skip
    scenario.fire(terminal, held)  # course 1 only: the ribeye waits
    scenario.fire_table(terminal, "9", 3)
    time.sleep(5.0)
    scenario.fire(terminal, held, course=2)  # the held course, fired now
    scenario.fire_table(terminal, "30", 4)
    fired_last_shown = time.monotonic()  # the newest ticket on page 1
    for n in range(5, OPEN):
        scenario.fire_table(terminal, str(40 + n), n)
    # A void after fire on the first ticket, approved by a manager.
    lines = terminal.checks(check=first)["check"]["lines"]
    fries = next(line["id"] for line in lines if line["item"] == "fries")
    void = {"type": "void_item", "by": "s-ana", "check": first, "line": fries,
            "reason": "sent wrong", "approved_by": scenario.MANAGER}  # fmt: skip
    scenario.ok(terminal.submit(void))
    grill_ids = [t["id"] for t in terminal.tickets(station="grill")["tickets"]]
    assert len(grill_ids) == OPEN

    state = grill.wait_for("60 tickets", lambda s: s["order"] == grill_ids, 30)
    assert state["page_text"] == "60 open   page 1/10"
    # The bump bar's keys over the columns, each over the ticket it bumps.
    shown_ids = [c["id"] for c in state["shown"]]
    assert state["numbers"] == [
        {"text": str(i), "over": tid} for i, tid in enumerate(shown_ids, start=1)
    ], state["numbers"]
    levels = [c["level"] for c in state["shown"]]
    # Oldest first, so the colour can only get calmer down the page; the first two
    # are over 10 s old whatever the machine's speed.
    severity = {"late": 2, "warn": 1, "normal": 0}
    assert levels[:2] == ["late", "late"], levels
    assert [severity[x] for x in levels] == sorted((severity[x] for x in levels), reverse=True)
    if time.monotonic() - fired_last_shown < 4.0:
        # A machine quick enough to show the page within 4 s shows all three colours
        # (a loaded one may age the newest tickets past 5 s before the frame).
        assert "warn" in levels and levels[-1] == "normal", levels
    assert any("COURSE 2 FIRED" in c["flags"] for c in state["shown"])
    expo.wait_for("expo's tickets", lambda s: len(s["order"]) == OPEN + 1, 30)  # + the caesar
    grill.screenshot(artifacts_dir / "kitchen-busy.png")
    expo.screenshot(artifacts_dir / "kitchen-expo-busy.png")

    # The bump bar: next page, then key 2 bumps the second ticket on it.
    grill.do("key", key=KEY_RIGHT)
    state = grill.wait_for("page 2", lambda s: s["page_text"].endswith("page 2/10"), 5)
    target = state["shown"][1]["id"]
    assert target == grill_ids[len(state["shown"]) + 1]
    grill.do("key", key=KEY_2, text="2")
    state = grill.wait_for("the keyed bump", lambda s: target not in s["order"], 15)
    # The cards moved under the numbers; each number is still over the ticket it bumps.
    assert [n["over"] for n in state["numbers"]] == [c["id"] for c in state["shown"]]
    # The page holds the next tickets in order, and nothing else (the bumped one's card
    # is gone from it, not only from the list).
    cols = len(state["numbers"])
    assert [c["id"] for c in state["shown"]] == state["order"][cols : 2 * cols], state["shown"]
    assert target not in [t["id"] for t in terminal.tickets(station="grill")["tickets"]]
    grill.do("key", key=KEY_LEFT)
    state = grill.wait_for("page 1", lambda s: s["page_text"].endswith("page 1/10"), 5)

    # A ticket arriving changes no card on the page: each is still the same widget.
    before = {c["id"]: c["widget"] for c in state["shown"]}
    scenario.fire_table(terminal, "99", 0)
    state = grill.wait_for("the new ticket", lambda s: len(s["order"]) == OPEN, 15)
    assert {c["id"]: c["widget"] for c in state["shown"]} == before
    # Only the page on show and those either side have cards (a card is thousands of
    # Python objects; 60 of them slowed every full garbage collection).
    assert state["built"] <= 3 * len(state["shown"]) < OPEN, state["built"]
    # Python starts no full garbage collection itself: the app runs one when the screen
    # is quiet (kitchen/quiet_gc.py), never in the middle of a burst of tickets.
    assert grill.do("perf")["gc_threshold"][2] >= quiet_gc.NEVER

    grill.do("key", key=KEY_A, text="a")
    state = grill.wait_for("all day", lambda s: len(s["all_day"]) >= 4, 10)
    grill.screenshot(artifacts_dir / "kitchen-all-day-grill.png")
