"""Clock faults on the leader, reduced from the nemesis' ``clock`` fault to single steps.

The ledger's time is the leader's stamp, never going backwards. A leader whose
clock jumps a day ahead must neither make the ledger forget the command ids a
retry needs (exactly-once) nor drag later sales into tomorrow's business day.
The leader stamps with the median of the voters' gossiped clocks, and the dedup
table forgets an id only after a day of stamped time *and* of log entries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(120)

DAY_AND_TWO_HOURS_MS = 26 * 3_600_000


def _add(check: str, cid: str) -> dict[str, Any]:
    return {"type": "add_items", "id": cid, "by": "s-ana", "check": check,
            "items": [{"item": "soda", "qty": 1, "note": cid}]}  # fmt: skip


def test_a_retry_after_the_leaders_clock_jumped_a_day_ahead_is_still_a_duplicate(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    leader = cluster.client(cluster.leader())
    opened = leader.submit({"type": "open_check", "by": "s-ana", "table": "1"})
    check = opened["outcome"]["check"]
    first = leader.submit(_add(check, "same-id"))
    assert first["ok"], first
    assert leader.call("clock_offset", ms=DAY_AND_TWO_HOURS_MS)["ok"]
    assert leader.submit(_add(check, "other"))["ok"]  # stamped a day ahead: old ids forgotten
    assert leader.call("clock_offset", ms=0)["ok"]
    retry = leader.submit(_add(check, "same-id"))  # the client's retry of its first command
    notes = [line["note"] for line in leader.checks(check=check)["check"]["lines"]]
    assert notes.count("same-id") == 1, f"applied twice: {notes}; retry answered {retry}"
    assert retry.get("duplicate") is True and retry["index"] == first["index"]


def test_a_moment_of_a_wrong_clock_on_the_leader_does_not_move_later_sales(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    name = cluster.leader()
    leader = cluster.client(name)

    def business_day() -> str:
        reply = leader.submit({"type": "open_check", "by": "s-ana", "table": "2"})
        assert reply["ok"], reply
        day: str = reply["outcome"]["business_day"]
        return day

    before = business_day()
    assert leader.call("clock_offset", ms=DAY_AND_TWO_HOURS_MS)["ok"]
    business_day()  # one sale while the clock is wrong
    assert leader.call("clock_offset", ms=0)["ok"]
    # The clock is right again, and then the leader is replaced by one whose clock was
    # always right: later sales still belong to tomorrow.
    cluster.kill(name)
    leader = cluster.client(cluster.leader(among=[n for n in cluster.names if n != name]))
    assert business_day() == before
