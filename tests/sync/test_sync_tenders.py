"""Tenders that need the outside world are refused at once, with a message that says so.

Card, gift card and house account (``requires_cloud`` in the catalog) are refused while
the cloud is down, within a commit round trip, never a hang; cash still works.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.procs import ProcessReaper
from tests.sync.synckit import open_check_command, site_with_cloud, wait_dot

pytestmark = pytest.mark.timeout(120)

REFUSED_WITHIN_S = 3.0  # generous: a refusal is one commit round trip on loopback


def test_card_gift_and_account_are_refused_at_once_offline_and_cash_is_taken(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    _cloud, cluster = site_with_cloud(tmp_path, reaper)  # the cloud never starts: offline
    cluster.start()
    leader = cluster.leader()
    via = next(n for n in cluster.names if n != leader)
    wait_dot(cluster, [via], "red")
    client = cluster.client(via)
    opened = client.submit(open_check_command("9"))
    assert opened["ok"], opened
    check = opened["outcome"]["check"]
    added = client.submit(
        {"type": "add_items", "by": "s-ana", "check": check, "items": [{"item": "soda", "qty": 2}]}
    )
    assert added["ok"], added
    timings = {}
    for tender in ("card", "gift", "account"):
        start = time.monotonic()
        reply = client.submit({"type": "pay", "by": "s-ana", "check": check, "tender": tender})
        timings[tender] = time.monotonic() - start
        assert not reply["ok"], reply
        assert reply["error"]["code"] == "requires_cloud", reply
        assert "authorization" in reply["error"]["message"], reply
        assert timings[tender] < REFUSED_WITHIN_S, timings
    print("refused offline in " + ", ".join(f"{t}: {s * 1000:.0f} ms" for t, s in timings.items()))
    paid = client.submit({"type": "pay", "by": "s-ana", "check": check, "tender": "cash"})
    assert paid["ok"], paid
    assert client.checks(check=check)["check"]["balance"] == 0
