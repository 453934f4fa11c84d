"""A KDS cut off from the quorum says so across the screen, then catches up without duplicates.

Each device is its own host (a network namespace on a bridge), so the cut is a
real unplugged cable: the KDS window and its node keep running, the three
terminals keep selling and firing, and the KDS must neither go silent nor, once
plugged back in, draw a ticket twice.
"""

from __future__ import annotations

import collections
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mesh.node.site_setup import init_site
from tests.kitchen import scenario
from tests.kitchen.harness import Kds
from tests.support.cluster import Cluster, wait_for
from tests.support.netns import NetnsLab
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.ui, pytest.mark.netns, pytest.mark.timeout(180)]


def banner_seconds(banner: str) -> int:
    """How long the banner says the screen has been cut off (-1 if it says nothing)."""
    found = re.search(r"for (\d+):(\d\d)", banner)
    return int(found[1]) * 60 + int(found[2]) if found else -1


class LabSite(Cluster):
    """A Cluster whose devices each live on a host of a NetnsLab (static peer addresses)."""

    def __init__(self, root: Path, reaper: ProcessReaper, lab: NetnsLab) -> None:
        self.root, self.reaper, self.lab = root, reaper, lab
        specs = scenario.devices({"k1": "grill"})
        self.logins = init_site(
            root, specs, site="kitchen", hosts=[h.address for h in lab.hosts], mdns=False
        )
        self.names = [d.name for d in specs]
        self.hosts = dict(zip(self.names, lab.hosts, strict=True))
        self.procs = {}

    def start(self, names=None, *, wait: bool = True) -> None:  # type: ignore[no-untyped-def]
        names = list(names or self.names)
        for name in names:
            argv = [sys.executable, "-m", "mesh", "node", "--data", str(self.data(name))]
            self.procs[name] = self.reaper.spawn(
                self.lab.exec_args(self.hosts[name], argv), log=self.data(name) / "node.log"
            )
        if wait:
            for name in names:
                wait_for(f"{name} to answer", lambda n=name: self.status(n), 30)


def test_cut_off_banner_then_catch_up_without_duplicates(
    tmp_path: Path,
    netns_lab: Callable[[int], NetnsLab],
    reaper: ProcessReaper,
    kds_factory: Callable[..., Kds],
    artifacts_dir: Path,
) -> None:
    lab = netns_lab(4)
    site = LabSite(tmp_path / "site", reaper, lab)
    scenario.bump_without_login(site.data("k1"))
    site.start(["n1", "n2", "n3"])
    kds = kds_factory(site.data("k1"), None, wrap=lab.exec_args(site.hosts["k1"], []))
    kds.ready()
    site.leader(timeout=30)
    terminal = site.client("n1")

    before = scenario.open_check(terminal, "7")
    scenario.order(terminal, before, [{"item": "ribeye", "modifiers": ["mod-rare"]}])
    scenario.fire(terminal, before)
    first = terminal.tickets(station="grill")["tickets"][0]["id"]
    kds.wait_for("the first ticket", lambda s: s["order"] == [first] and not s["banner"])

    lab.cut(site.hosts["k1"])
    cut_at = time.monotonic()
    state = kds.wait_for("the cut-off banner", lambda s: "CUT OFF" in s["banner"], 10)
    assert state["dot"] == state["dot_widget"] == "cut_off"
    noticed = time.monotonic() - cut_at
    assert noticed < 5, f"the screen stayed quiet for {noticed:.1f} s"

    # The rest of the restaurant keeps firing; the cut-off screen cannot know.
    during = []
    for table in ("8", "9"):
        check = scenario.open_check(terminal, table)
        scenario.order(terminal, check, [{"item": "burger", "qty": 2}, {"item": "salmon"}])
        scenario.fire(terminal, check)
        during.append(check)
    # A bump on the cut-off screen is refused out loud, and the ticket stays.
    kds.do("tap_bump", ticket=first)
    state = kds.wait_for("the refusal", lambda s: "Not saved" in s["message"], 15)
    assert state["order"] == [first]
    state = kds.wait_for("the banner to count", lambda s: banner_seconds(s["banner"]) >= 3, 10)
    # The banner pushed the rail down: the bump bar's number went with it, onto its card.
    assert state["numbers"] == [{"text": "1", "over": first}], state["numbers"]
    kds.screenshot(artifacts_dir / "kitchen-cut-off.png")
    # The banner came and counts each second: frames drawn only where they changed
    # (kitchen/damage.py) leave the same picture as the window drawn whole.
    assert kds.do("redraws")["partial"] > 0, "no frame was drawn in part"
    kds.same_as_whole(artifacts_dir, "cut-off banner")

    lab.restore(site.hosts["k1"])
    grill = {t["id"] for t in terminal.tickets(station="grill")["tickets"]}
    state = kds.wait_for("the catch-up", lambda s: set(s["order"]) == grill and not s["banner"], 30)
    assert state["dot"] != "cut_off"
    assert len(state["order"]) == len(set(state["order"])) == 3
    assert [n["over"] for n in state["numbers"]] == state["order"], state["numbers"]
    kds.same_as_whole(artifacts_dir, "banner gone, tickets caught up")
    lines = collections.Counter(
        item["line"] + "@" + tid for tid, items in state["tickets"].items() for item in items
    )
    assert all(n == 1 for n in lines.values())
    kds.screenshot(artifacts_dir / "kitchen-reconnected.png")
