"""Offline and back: 200 checks sold through 3 nodes while the cloud is away, then numbered.

Run on the cloud's SQLite and, where a PostgreSQL server is installed, on PostgreSQL.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.procs import ProcessReaper
from tests.sync.synckit import (
    all_numbered,
    assert_exactly_once,
    both_ids_find,
    numbers_on,
    open_checks,
    site_with_cloud,
    wait_dot,
    wait_numbered,
    wait_view,
)

pytestmark = pytest.mark.timeout(180)

OFFLINE_CHECKS = 200
CATCH_UP_S = 60.0  # asserted bound; the time taken is printed


def test_checks_sold_offline_get_exactly_one_number_each_when_the_cloud_returns(
    tmp_path: Path, reaper: ProcessReaper, cloud_db: str | None
) -> None:
    cloud, cluster = site_with_cloud(tmp_path, reaper, db_url=cloud_db)
    cloud.start()
    cluster.start()
    leader = cluster.leader()
    wait_view(cluster, leader, "the cloud up", lambda v: v["cloud"] == "up")
    cloud.stop()  # the internet goes
    wait_dot(cluster, cluster.names, "red")

    ids = open_checks(cluster, OFFLINE_CHECKS, via=cluster.names)
    assert len(set(ids)) == OFFLINE_CHECKS
    # Selling went on; nothing has a number, and every node knows how much waits.
    assert all(numbers_on(cluster, leader)[i] is None for i in ids)
    for name in cluster.names:
        view = wait_view(
            cluster, name, "the backlog counted", lambda v: v["backlog"] >= OFFLINE_CHECKS, 15
        )
        assert view["dot"] == "red" and view["oldest_ms"] is not None, view

    cloud.start()  # the internet comes back
    returned = time.monotonic()
    took = wait_numbered(cluster, cluster.names, ids, CATCH_UP_S)
    print(
        f"{OFFLINE_CHECKS} offline checks numbered on all {len(cluster.names)} nodes "
        f"{took:.2f} s after the cloud returned ({'postgresql' if cloud_db else 'sqlite'})"
    )
    mapping = assert_exactly_once(cloud, cluster, cluster.names, ids)
    # Every check by both IDs on one node, a sample on the others (each look is a round trip).
    both_ids_find(cluster, cluster.names[0], mapping)
    for name in cluster.names[1:]:
        both_ids_find(cluster, name, {i: mapping[i] for i in ids[::10]})
    wait_dot(cluster, cluster.names, "green")
    assert time.monotonic() - returned < CATCH_UP_S + 30
    assert all_numbered(cluster, cluster.names, ids)
