"""The dot while a backlog drains (amber, with its count) and the manager panel behind it.

A real cloud (``python -m cloud``) runs on loopback and a 3-node site is linked to
it; terminal A runs node n1 and is driven by touch. The test slows every answer of
the cloud with its fault knob (``delay``, inside the sync agent's request timeout),
then freezes the process (SIGSTOP: the line hangs without a word, as when a router
drops the uplink). Sales go on offline and the dot is red. The process is thawed
(SIGCONT): the cloud answers again but slowly, so the backlog takes several slow
round trips to drain and the dot is amber with the number waiting, then green.
The panel behind the dot shows what waits and the age of the oldest, and the last
cloud sync, which moves on once the backlog is acknowledged.

The dot's colour is read from the screenshots' pixels; the numbers shown are
compared with what the nodes say over their control sockets. Nothing is mocked.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from terminal.present import TIMES, clock_of
from tests.support.cluster import Cluster, wait_for
from tests.support.procs import ProcessReaper
from tests.support.ui import UiApp
from tests.sync.synckit import CloudProcess, site_with_cloud
from tests.terminal.flows import add_item, dot_colour, login, open_check, the_check

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

NODES = ["n1", "n2", "n3"]
DOT_S = 30.0  # the agent notices a hung cloud after its request timeout (3 s) and backs off
NUMBER_S = 30.0
BACKLOG_S = 30.0  # the leader counts its backlog again at each failed round (every <= 8 s)
# ms each answer of the cloud is held back: under the agent's 3 s request timeout with
# room for a busy machine, and long enough that a drain (a probe, the catalog, the
# checks, the events: one slow answer each) keeps the dot amber for several seconds.
SLOW_MS = 1800
SLOW_FOR_S = 600.0  # the fault knob's own bound: longer than the test may run


@contextmanager
def frozen(cloud: CloudProcess) -> Iterator[None]:
    """The cloud's process stopped (its sockets accept, nothing answers); thawed on exit."""
    assert cloud.proc is not None
    os.kill(cloud.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(cloud.proc.pid, signal.SIGCONT)


def leader_cloud(cluster: Cluster) -> dict[str, Any]:
    """The cloud as the leading node's sync agent publishes it (``status.cloud``)."""
    cloud: dict[str, Any] = cluster.status(cluster.leader(among=NODES))["cloud"]
    return cloud


def unsynced(cluster: Cluster) -> int:
    state = cluster.client("n3").state()
    assert state["ok"], state
    return int(state["unsynced"])


def test_a_slow_cloud_drains_the_backlog_amber_and_the_panel_shows_the_last_sync(
    tmp_path: Path, reaper: ProcessReaper, terminal: Callable[..., UiApp]
) -> None:
    cloud, cluster = site_with_cloud(tmp_path, reaper)
    cloud.start()
    cluster.start(["n2", "n3"])
    ledger = cluster.client("n3")
    a = terminal(cluster.data("n1"), "A")
    ana = next(s.pin for s in cluster.logins if s.staff_id == "s-ana")
    dev = next(s.pin for s in cluster.logins if s.staff_id == "k-dev")
    login(a, ana)
    a.wait("Online", timeout=DOT_S)

    # Online: a check is numbered, nothing waits, the dot is green.
    open_check(a, "3")
    wait_for("table 3 numbered", lambda: the_check(ledger, "3")["number"], NUMBER_S)
    a.tap(id="back_button")
    wait_for("nothing waiting", lambda: unsynced(cluster) == 0, NUMBER_S)
    first_sync = wait_for(
        "a first sync", lambda: leader_cloud(cluster).get("last_sync_ms") or 0, NUMBER_S
    )
    a.wait("Online", timeout=DOT_S)
    assert dot_colour(a, a.screenshot("01-online")) == "green"

    # The panel: nothing waits, and the last cloud sync is the leader's, to the second.
    a.tap(id="dot")
    a.wait(f"{clock_of(first_sync)} (", contains=True)
    assert a.find(id="unsynced_row")["text"] == "nothing"
    assert a.find(id="cloud_row")["text"] == "reachable, all uploaded"
    a.wait("Online")  # the panel's own dot caption (the top bar's is behind the panel)
    assert dot_colour(a, a.screenshot("02-panel-online"), id="panel_dot") == "green"
    a.tap(id="close_panel")
    a.wait(id="close_panel", gone=True)

    # The line goes slow, then hangs: the dot turns red and selling goes on.
    cloud.set_fault("delay", delay_ms=SLOW_MS, seconds=SLOW_FOR_S)
    with frozen(cloud):
        a.wait("Offline: selling continues", timeout=DOT_S)
        open_check(a, "8")
        add_item(a, "Drinks", "House IPA")
        a.wait(f"1 {TIMES} House IPA", contains=True)
        a.tap(id="fire_all")
        a.wait("FIRED", contains=True)
        a.tap(id="back_button")
        a.wait(id="new_check")
        open_check(a, "9")  # a second record waiting: a count of one proves less
        a.tap(id="back_button")
        a.wait(id="new_check")
        # The cook clocks in at this terminal: a time entry, uploaded apart from checks.
        a.tap(id="lock_button")
        for digit in dev:
            a.tap(digit)
        a.tap(id="clock_in")
        a.wait("Dev clocked in")
        login(a, ana)
        assert the_check(ledger, "8")["number"] is None
        assert the_check(ledger, "9")["number"] is None
        # What waits: the ledger's count, once the leader's agent has counted it too
        # (it does so at each failed attempt; the amber caption starts from that count).
        waiting = wait_for(
            "the leader's backlog to match the ledger's",
            lambda: (n := unsynced(cluster)) > 0 and leader_cloud(cluster)["backlog"] == n and n,
            BACKLOG_S,
        )
        a.wait("Offline: selling continues")
        assert dot_colour(a, a.screenshot("03-offline")) == "red"
        a.tap(id="dot")
        a.wait(f"{waiting} record", contains=True)
        oldest = a.find(id="unsynced_row")["text"]
        assert re.fullmatch(rf"{waiting} records?, the oldest \d+ (s|min) old", oldest), oldest
        assert a.find(id="cloud_row")["text"].startswith("unreachable")
        assert "approval code" in a.find(id="cards_row")["text"]  # offline too
        assert clock_of(first_sync) in a.find(id="last_sync_row")["text"]
        a.screenshot("04-panel-offline")
        a.tap(id="close_panel")
        a.wait(id="close_panel", gone=True)

    # The line is back but slow: amber with the count, for as long as the drain takes.
    seen = a.wait(f"Syncing: {waiting} waiting", timeout=DOT_S)
    amber = a.screenshot("05-amber")
    # The caption must still be there after the picture, or the picture proves nothing.
    assert f"Syncing: {waiting} waiting" in a.texts(), "drained too soon: raise SLOW_MS"
    assert dot_colour(a, amber) == "amber"

    # Synced: the panel's last cloud sync moves on to the leader's new one; nothing waits.
    later = wait_for("table 8 numbered", lambda: the_check(ledger, "8")["number"], NUMBER_S)
    assert a.wait("Online", timeout=DOT_S) > seen
    synced = wait_for(
        "a later sync",
        lambda: (ms := leader_cloud(cluster).get("last_sync_ms") or 0) > first_sync and ms,
        NUMBER_S,
    )
    a.tap(id="dot")
    a.wait(f"{clock_of(synced)} (", contains=True, timeout=DOT_S)
    a.wait("nothing", timeout=DOT_S)
    assert clock_of(first_sync) not in a.find(id="last_sync_row")["text"]
    assert dot_colour(a, a.screenshot("06-panel-synced"), id="panel_dot") == "green"
    assert later in {c["number"] for c in cloud.checks()}
