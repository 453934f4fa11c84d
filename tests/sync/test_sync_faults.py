"""A cloud that answers badly: 500s, 503s, malformed JSON, answers slower than the agent waits.

For each fault the agent must back off (few requests while the fault lasts), keep the
backlog (nothing numbered or acknowledged from a bad answer; every node's dot red with
the count), and, once the fault clears, sync everything with each check held once by
the cloud. The fault knob of the real cloud process does the misbehaving (docs/cloud.md).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper
from tests.sync.synckit import (
    CloudProcess,
    assert_exactly_once,
    cloud_view,
    numbers_on,
    open_checks,
    site_with_cloud,
    wait_dot,
    wait_numbered,
    wait_view,
)

pytestmark = pytest.mark.timeout(240)

CHECKS_PER_FAULT = 20
FAULT_WINDOW_S = 5.0  # how long each fault is watched
# Backing off from 0.5 s up to 5 s, the agent makes about 5 requests in 5 s (a probe per
# attempt); one every round (0.25 s) would be about 20. The bound leaves room for slack.
MAX_REQUESTS_IN_WINDOW = 10
KNOB_REQUESTS = 10_000  # the fault lasts for this many requests: the count left tells the rate


def red_everywhere_with_backlog(cluster: Cluster, at_least: int) -> None:
    for name in cluster.names:
        wait_view(
            cluster,
            name,
            f"red with a backlog of {at_least}",
            lambda v: v["dot"] == "red" and v["backlog"] >= at_least,
            15,
        )


def hold_fault(cloud: CloudProcess, cluster: Cluster, mode: str, ids: list[str]) -> int:
    """Let the fault run for the window; assert the backlog is kept; the requests it saw."""
    time.sleep(FAULT_WINDOW_S)
    red_everywhere_with_backlog(cluster, len(ids))
    leader = cluster.leader()
    shown = numbers_on(cluster, leader)
    assert all(shown[i] is None for i in ids), f"{mode}: a check was numbered from a bad answer"
    assert cloud_view(cluster, leader)["last_error"], "the leader says nothing of the fault"
    left = cloud.fault()["requests_left"]
    return KNOB_REQUESTS - int(left)


def test_the_agent_backs_off_keeps_the_backlog_and_syncs_after_every_fault(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cloud, cluster = site_with_cloud(tmp_path, reaper)
    cloud.start()
    cluster.start()
    leader = cluster.leader()
    wait_dot(cluster, [leader], "green")
    every: list[str] = []
    seen: dict[str, int] = {}
    for mode in ("error", "unavailable", "malformed"):
        cloud.set_fault(mode, requests=KNOB_REQUESTS)
        ids = open_checks(cluster, CHECKS_PER_FAULT, via=cluster.names)
        every += ids
        seen[mode] = hold_fault(cloud, cluster, mode, ids)
        assert seen[mode] <= MAX_REQUESTS_IN_WINDOW, f"{mode}: no back-off ({seen})"
        cloud.set_fault("off")
        took = wait_numbered(cluster, cluster.names, ids, 30)
        print(f"{mode}: {seen[mode]} requests in {FAULT_WINDOW_S:g} s of fault; "
              f"all numbered {took:.2f} s after it cleared")  # fmt: skip

    # Answers slower than the agent's timeout (3 s): the cloud stores and numbers what was
    # posted, the agent never hears it; after the fault the re-post gets the same numbers.
    cloud.set_fault("delay", delay_ms=4_000, requests=KNOB_REQUESTS)
    ids = open_checks(cluster, CHECKS_PER_FAULT, via=cluster.names)
    every += ids
    time.sleep(FAULT_WINDOW_S + 4)
    red_everywhere_with_backlog(cluster, len(ids))
    assert all(numbers_on(cluster, cluster.leader())[i] is None for i in ids)
    cloud.set_fault("off")
    took = wait_numbered(cluster, cluster.names, ids, 30)
    print(f"delay 4 s: all numbered {took:.2f} s after it cleared")

    # Slow but within the timeout: syncing goes on, only slower.
    cloud.set_fault("delay", delay_ms=1_000, requests=KNOB_REQUESTS)
    ids = open_checks(cluster, CHECKS_PER_FAULT, via=cluster.names)
    every += ids
    took = wait_numbered(cluster, cluster.names, ids, 30)
    print(f"delay 1 s: all numbered {took:.2f} s after opening")
    cloud.set_fault("off")

    assert_exactly_once(cloud, cluster, cluster.names, every)
    wait_dot(cluster, cluster.names, "green")


SMALL_BODY_LIMIT = 30_000  # bytes: a 150-check backlog is several times this


def test_a_cloud_that_takes_only_small_posts_still_gets_the_whole_backlog(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    """413 (request too large) makes the agent post smaller batches, not give up."""
    cloud, cluster = site_with_cloud(
        tmp_path, reaper, extra=["--max-body-bytes", str(SMALL_BODY_LIMIT)]
    )
    cluster.start()  # the cloud is away: the backlog builds up
    wait_dot(cluster, [cluster.leader()], "red")
    ids = open_checks(cluster, 150, via=cluster.names)
    cloud.start()
    took = wait_numbered(cluster, cluster.names, ids, 60)
    print(f"150 checks through a cloud taking {SMALL_BODY_LIMIT} bytes a post: {took:.2f} s")
    assert_exactly_once(cloud, cluster, cluster.names, ids)
    assert any("batch too large" in cluster.log_tail(n, 100_000) for n in cluster.names)
