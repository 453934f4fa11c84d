"""A business day closed while the cloud is away reaches the cloud when it returns.

The day's checks are paid and closed offline, the manager closes the day offline,
and once the cloud answers again it holds the checks under that business day and
the day marked closed: no manual fix, whatever the outage covered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import wait_for
from tests.support.procs import ProcessReaper
from tests.sync.synckit import SITE_TOKEN, site_with_cloud, wait_dot, wait_view

pytestmark = pytest.mark.timeout(180)


def _ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"], reply
    outcome: dict[str, Any] = reply["outcome"]
    return outcome


def test_a_day_closed_offline_is_filed_closed_at_the_cloud_when_it_returns(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cloud, cluster = site_with_cloud(tmp_path, reaper)
    cloud.start()
    cluster.start()
    leader = cluster.leader()
    wait_view(cluster, leader, "the cloud up", lambda v: v["cloud"] == "up")
    cloud.stop()
    wait_dot(cluster, cluster.names, "red")

    client = cluster.client(cluster.names[1])
    opened = _ok(client.submit({"type": "open_check", "by": "s-ana", "table": "4"}))
    check, day = opened["check"], opened["business_day"]
    _ok(client.submit({"type": "add_items", "by": "s-ana", "check": check,
                       "items": [{"item": "soda", "qty": 2}]}))  # fmt: skip
    balance = client.checks(check=check)["check"]["totals"]["balance"]
    _ok(client.submit({"type": "pay", "by": "s-ana", "check": check, "tender": "cash",
                       "amount": balance, "tendered": balance}))  # fmt: skip
    _ok(client.submit({"type": "close_check", "by": "s-ana", "check": check}))
    closed = _ok(client.submit({"type": "close_day", "by": "m-eve"}))
    assert closed["status"] == "closed" and closed["day"] == day

    cloud.start()

    def filed() -> dict[str, Any] | None:
        summary: dict[str, Any] = cloud._request("GET", f"/v1/days/{day}", SITE_TOKEN)
        return summary if summary["closed"] and summary["closed_checks"] >= 1 else None

    summary = wait_for("the day closed at the cloud", filed, 60)
    assert summary["open_checks"] == 0 and summary["total"] == balance
    assert summary["events"].get("day_close") == 1
    wait_dot(cluster, cluster.names, "green")
