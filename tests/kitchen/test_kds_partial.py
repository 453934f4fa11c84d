"""Frames drawn only where they changed give the same picture as frames drawn whole.

A live site and a real grill KDS on Xvfb (Mesa's software renderer, whose swap keeps
the back buffer). After every kind of change the cook can see (tickets arriving, an
item and a ticket bumped, the age timers and colours, a page turn, the other screens
and back, the message line, a pressed button, a window resized) the driver reads the
picture the partial frames left, draws the same window whole at once and reads it
again: the two must be equal pixel for pixel (``compare_full`` in kds_driver.py; a
difference saves both pictures to the test's artifacts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.kitchen import scenario
from tests.kitchen.harness import Kds
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

KEY_RIGHT, KEY_LEFT, KEY_A, KEY_R, KEY_ESC = 275, 276, 97, 114, 27


def same_picture(kds: Kds, artifacts: Path, what: str) -> dict[str, Any]:
    """The picture on screen equals the same window drawn whole."""
    return kds.same_as_whole(artifacts, what)


def partial_frames(kds: Kds) -> int:
    count: int = kds.do("redraws")["partial"]
    return count


def test_partial_frames_show_what_full_frames_show(
    tmp_path: Path,
    reaper: ProcessReaper,
    kds_factory: Callable[..., Kds],
    artifacts_dir: Path,
) -> None:
    cluster = Cluster(tmp_path / "site", reaper, devices=scenario.devices({"k1": "grill"}))
    settings = {"default_staff": scenario.KITCHEN_STAFF, "warn_after_s": 2, "late_after_s": 4}
    (cluster.data("k1") / "kitchen.json").write_text(json.dumps(settings))
    cluster.start(["n1", "n2", "n3"])
    grill = kds_factory(cluster.data("k1"), None).ready()
    terminal = cluster.client(cluster.leader())
    deadline = time.monotonic() + 10
    while not grill.do("redraws")["active"]:  # the probe's few frames after start-up
        assert time.monotonic() < deadline, "the probe found the back buffer not kept"
        time.sleep(0.1)

    checks = [scenario.fire_table(terminal, str(10 + n), n) for n in range(3)]
    state = grill.wait_for("three tickets", lambda s: len(s["shown"]) == 3, 30)
    assert [n["text"] for n in state["numbers"]] == ["1", "2", "3"]  # none over empty columns
    same_picture(grill, artifacts_dir, "tickets arrived")

    # The timers tick each second and the headers turn yellow, then red: frames of
    # a few header boxes, drawn in part.
    drawn = partial_frames(grill)
    time.sleep(2.5)
    same_picture(grill, artifacts_dir, "headers turned yellow")
    time.sleep(2.0)
    same_picture(grill, artifacts_dir, "headers turned red")
    assert partial_frames(grill) > drawn, "no frame was drawn in part"

    # One new ticket: a column of its own (and the count in the top bar).
    drawn = partial_frames(grill)
    scenario.fire_table(terminal, "20", 3)
    grill.wait_for("a fourth ticket", lambda s: len(s["shown"]) == 4, 15)
    got = same_picture(grill, artifacts_dir, "one ticket arrived")
    assert partial_frames(grill) > drawn and got["last"] is not None, str(grill.do("redraws"))

    # An item bumped with a tap: it dims, then shows as bumped.
    state = grill.state()
    card = next(c for c in state["shown"] if len(c["items"]) >= 2)
    line = card["items"][0]["line"]

    def item_state(s: dict[str, Any]) -> str:
        shown = next(c for c in s["shown"] if c["id"] == card["id"])
        return "pending" if shown["pending"] else str(shown["items"][0]["state"])

    grill.do("tap_item", ticket=card["id"], line=line)
    grill.wait_for("the item bumped", lambda s: item_state(s) not in ("new", "pending"), 15)
    same_picture(grill, artifacts_dir, "item bumped")

    # A void after fire on the first ticket: its card shows the flag, a band of its own
    # between the header and the items, which move down.
    first = state["shown"][0]["id"]
    line = next(i["line"] for i in grill.state()["shown"][0]["items"] if i["state"] == "new")
    void = {"type": "void_item", "by": "s-ana", "check": checks[0], "line": line,
            "reason": "sent wrong", "approved_by": scenario.MANAGER}  # fmt: skip
    scenario.ok(terminal.submit(void))
    grill.wait_for("the void flagged", lambda s: s["shown"][0]["flags"] == "VOID AFTER FIRE", 15)
    same_picture(grill, artifacts_dir, "void after fire")

    # A whole ticket bumped: SENDING..., then every card after it moves left, its
    # pixels copied there rather than drawn again.
    copied = grill.do("redraws")["copies"]
    grill.do("tap_bump", ticket=first)
    grill.wait_for("the ticket bumped", lambda s: first not in s["order"], 15)
    same_picture(grill, artifacts_dir, "ticket bumped")
    assert grill.do("redraws")["copies"] >= copied + 2, "the moved cards were drawn again"

    # Enough tickets for a second page, then a page turn there and back.
    for n in range(4, 12):
        scenario.fire_table(terminal, str(30 + n), n)
    grill.wait_for("two pages", lambda s: s["page_text"].endswith("page 1/2"), 30)
    same_picture(grill, artifacts_dir, "second page filled")
    grill.do("key", key=KEY_RIGHT)
    grill.wait_for("page 2", lambda s: s["page_text"].endswith("page 2/2"), 5)
    same_picture(grill, artifacts_dir, "page turned")
    grill.do("key", key=KEY_LEFT)
    grill.wait_for("page 1", lambda s: s["page_text"].endswith("page 1/2"), 5)
    same_picture(grill, artifacts_dir, "page turned back")
    # A bump on a full page: every card moves left, one comes from the next page into
    # the last column, where the picture of the card that left must not show through.
    first = grill.state()["shown"][0]["id"]
    grill.do("tap_bump", ticket=first)
    grill.wait_for("the ticket bumped", lambda s: first not in s["order"], 15)
    same_picture(grill, artifacts_dir, "full page bumped")

    # The other screens and back to the rail.
    grill.do("key", key=KEY_A, text="a")
    grill.wait_for("all day", lambda s: s["screen"] == "all_day" and s["all_day"], 10)
    same_picture(grill, artifacts_dir, "all day")
    grill.do("key", key=KEY_R, text="r")
    grill.wait_for("recall", lambda s: s["screen"] == "recall" and s["recall"], 10)
    same_picture(grill, artifacts_dir, "recall")
    grill.do("key", key=KEY_ESC)
    grill.wait_for("the rail", lambda s: s["screen"] == "rail", 10)
    same_picture(grill, artifacts_dir, "back to the rail")

    # The message line comes and goes (it moves the whole rail up, then down).
    grill.do("key", key=KEY_R, text="r")
    grill.wait_for("recall", lambda s: s["screen"] == "recall", 10)
    grill.do("key", key=49, text="1")  # recall the newest bumped ticket
    grill.wait_for("the message", lambda s: s["message"] and s["screen"] == "rail", 15)
    same_picture(grill, artifacts_dir, "message shown")

    # A finger held on a button: it shows pressed until lifted.
    grill.do("press_text", text="All day")
    same_picture(grill, artifacts_dir, "button pressed")
    grill.do("release")
    grill.wait_for("all day", lambda s: s["screen"] == "all_day", 10)
    same_picture(grill, artifacts_dir, "button released")
    grill.do("key", key=KEY_ESC)
    grill.wait_for("the rail", lambda s: s["screen"] == "rail", 10)
    same_picture(grill, artifacts_dir, "the rail again")

    # A window resized: the whole window is drawn again, at its new size.
    grill.do("resize", width=1280, height=800)
    grill.wait_for("the new size", lambda s: s["window"] == [1280, 800], 10)
    same_picture(grill, artifacts_dir, "window resized")
    drawn = partial_frames(grill)
    time.sleep(1.5)
    same_picture(grill, artifacts_dir, "timers at the new size")
    assert partial_frames(grill) > drawn
    # Some frames changed boxes far apart (a column and the top bar's count): drawn in
    # passes of their own, and still the same picture.
    redraws = grill.do("redraws")
    assert redraws["passes"] > redraws["partial"], redraws


def test_partial_redraw_can_be_turned_off(
    tmp_path: Path,
    reaper: ProcessReaper,
    kds_factory: Callable[..., Kds],
) -> None:
    cluster = Cluster(tmp_path / "site", reaper, devices=scenario.devices({"k1": "grill"}))
    settings = {"default_staff": scenario.KITCHEN_STAFF, "partial_redraw": False}
    (cluster.data("k1") / "kitchen.json").write_text(json.dumps(settings))
    cluster.start(["n1", "n2", "n3"])
    grill = kds_factory(cluster.data("k1"), None).ready()
    terminal = cluster.client(cluster.leader())
    scenario.fire_table(terminal, "12", 0)
    grill.wait_for("the ticket", lambda s: len(s["shown"]) == 1, 30)
    time.sleep(1.5)  # the timers tick: frames that would be drawn in part
    redraws = grill.do("redraws")
    assert not redraws["active"] and redraws["partial"] == 0 and redraws["full"] > 0, redraws
