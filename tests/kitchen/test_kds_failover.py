"""Kill -9 the leader while 50 items are being fired: every item is on the screens once.

The terminal side retries each command with the same id through another node
until it is acknowledged (the ledger applies an id once), exactly as a terminal
must. The KDS windows (grill and expo, each with its node inside) follow the new
leader; afterwards each fired item is on exactly one grill ticket and one expo
ticket, and no ticket is drawn twice.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mesh.client.api import ClientError
from tests.kitchen import scenario
from tests.kitchen.harness import Kds
from tests.support.cluster import Cluster, wait_for
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

ITEMS = 50
TABLES = 5
MENU = [
    ("burger", ["mod-mrare", "mod-cheese"]),
    ("ribeye", ["mod-medium"]),
    ("salmon", []),
    ("chicken", []),
    ("burger", ["mod-well", "mod-gf-bun"]),
]


class Firer(threading.Thread):
    """Adds one grill item and fires it, 50 times; every command retried with its own id."""

    def __init__(self, cluster: Cluster, checks: list[str], via: list[str]) -> None:
        super().__init__(daemon=True)
        self.cluster, self.checks, self.via = cluster, checks, via
        self.fired = 0
        self.failed: list[str] = []
        self.done = threading.Event()

    def send(self, command: dict[str, Any]) -> None:
        deadline = time.monotonic() + 40
        attempt = 0
        while time.monotonic() < deadline:
            via = self.via[attempt % len(self.via)]
            attempt += 1
            alive = self.cluster.alive()
            if via not in alive:
                continue
            try:
                reply = self.cluster.client(via, timeout=8).submit(command, timeout=3)
            except ClientError:
                time.sleep(0.05)
                continue
            if reply["ok"]:
                return
            if reply["error"]["code"] not in {"timeout", "no_quorum"}:
                # "nothing to fire": an earlier, unacknowledged fire did go through.
                if command["type"] == "fire" and reply["error"]["code"] == "conflict":
                    return
                raise AssertionError(reply)
            time.sleep(0.05)
        self.failed.append(command["id"])

    def run(self) -> None:
        try:
            for i in range(ITEMS):
                check = self.checks[i % TABLES]
                item, mods = MENU[i % len(MENU)]
                order = {"item": item, "qty": 1 + i % 3, "seat": 1 + i % 4, "modifiers": mods,
                         "note": f"f{i}"}  # fmt: skip
                self.send({"type": "add_items", "id": f"add-{i}", "by": "s-ana",
                           "check": check, "items": [order]})  # fmt: skip
                self.send({"type": "fire", "id": f"fire-{i}", "by": "s-ana", "check": check})
                self.fired = i + 1
        finally:
            self.done.set()


def notes(state: dict[str, Any]) -> collections.Counter[str]:
    return collections.Counter(
        item["note"] for items in state["tickets"].values() for item in items
    )


def test_kill_9_the_leader_while_firing_shows_every_item_once(
    tmp_path: Path,
    reaper: ProcessReaper,
    kds_factory: Callable[..., Kds],
    artifacts_dir: Path,
) -> None:
    cluster = Cluster(
        tmp_path / "site", reaper, devices=scenario.devices({"k1": "grill", "k2": "expo"})
    )
    for name in ("k1", "k2"):
        scenario.bump_without_login(cluster.data(name))
    cluster.start(["n1", "n2", "n3"])
    grill, expo = kds_factory(cluster.data("k1"), None), kds_factory(cluster.data("k2"), None)
    grill.ready()
    expo.ready()
    leader = cluster.leader()
    terminal = cluster.client(next(n for n in ("n1", "n2", "n3") if n != leader))
    checks = [scenario.open_check(terminal, f"{20 + t}") for t in range(TABLES)]

    firer = Firer(cluster, checks, via=["n1", "n2", "n3"])
    firer.start()
    try:
        wait_for("a third of the items fired", lambda: firer.fired >= ITEMS // 3, 60)
        cluster.kill(leader)  # SIGKILL, mid-stream
        survivors = [n for n in ("n1", "n2", "n3") if n != leader]
        assert cluster.leader(among=survivors, timeout=20) != leader
        assert firer.done.wait(120), "the terminal could not finish firing"
    finally:
        firer.done.wait(60)
        firer.join(5)
    assert not firer.failed, f"never acknowledged: {firer.failed}"

    expected = {f"f{i}" for i in range(ITEMS)}
    for kds in (grill, expo):
        state = kds.wait_for("every item on screen", lambda s: set(notes(s)) >= expected, 30)
        counts = notes(state)
        assert set(counts) == expected
        assert all(n == 1 for n in counts.values()), [k for k, n in counts.items() if n > 1]
        assert len(state["order"]) == len(set(state["order"]))
        assert len(state["shown"]) >= 5  # a full page of cards is drawn
    grill.screenshot(artifacts_dir / "kitchen-after-failover.png")
