"""Kill -9 the leader mid-upload: the new leader finishes, the cloud holds each check once.

The cloud is made slow (the fault knob's ``delay``, under the agent's timeout) so that
uploading the backlog takes several seconds, and the leader is killed as soon as its
first batch is committed (the first check opened shows its number). The next batch is
then in flight: posted to the cloud, numbered there, not committed in the log. The new
leader's agent finds those checks unacknowledged in the log and posts them again; the
cloud, idempotent on the temporary ID, answers the numbers it gave the first time.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.support.cluster import wait_for
from tests.support.procs import ProcessReaper
from tests.sync.synckit import (
    assert_exactly_once,
    both_ids_find,
    numbers_on,
    open_checks,
    site_with_cloud,
    wait_dot,
    wait_numbered,
    wait_view,
)

pytestmark = pytest.mark.timeout(240)

BACKLOG = 1200  # three upload batches (500, 500, 200)
SLOW_CLOUD_MS = 1500  # every cloud answer this late: the agent (3 s timeout) still waits
CATCH_UP_S = 90.0


def test_a_leader_killed_mid_upload_is_replaced_and_nothing_is_posted_twice(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cloud, cluster = site_with_cloud(tmp_path, reaper)
    cloud.start()
    cluster.start()
    leader = cluster.leader()
    wait_view(cluster, leader, "the cloud up", lambda v: v["cloud"] == "up")
    cloud.stop()
    wait_dot(cluster, [leader], "red")
    started = time.monotonic()
    ids = open_checks(cluster, BACKLOG, via=cluster.names)
    opened_s = time.monotonic() - started
    first = ids[0]  # among the oldest: uploaded in the first batch

    cloud.start()
    cloud.set_fault("delay", delay_ms=SLOW_CLOUD_MS)
    client = cluster.client(leader)
    wait_for(
        "the first batch committed",
        lambda: client.checks(check=first)["check"]["number"] is not None,
        60,
    )
    cluster.kill(leader, signal.SIGKILL)
    killed_at = time.monotonic()
    cloud.set_fault("off")
    survivors = [n for n in cluster.names if n != leader]
    new_leader = cluster.leader(among=survivors, timeout=30)
    numbered_in_log = sum(1 for n in numbers_on(cluster, survivors[0]).values() if n)
    held_by_cloud = len(cloud.checks())
    took = wait_numbered(cluster, survivors, ids, CATCH_UP_S)
    print(
        f"opened {BACKLOG} offline in {opened_s:.1f} s; killed leader {leader} with "
        f"{numbered_in_log} numbered in the log and {held_by_cloud} held by the cloud; "
        f"new leader {new_leader} numbered the rest {time.monotonic() - killed_at:.2f} s "
        f"after the kill ({took:.2f} s after it was found)"
    )
    assert numbered_in_log < BACKLOG, "the upload was over before the kill: not a test"
    mapping = assert_exactly_once(cloud, cluster, survivors, ids)
    # The killed node comes back, catches up from the log, and shows the same numbers.
    cluster.start([leader])
    wait_numbered(cluster, [leader], ids, 60)
    assert_exactly_once(cloud, cluster, cluster.names, ids)
    both_ids_find(cluster, leader, {i: mapping[i] for i in ids[:: BACKLOG // 40]})
