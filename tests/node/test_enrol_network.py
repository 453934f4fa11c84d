"""A new device joins over the network with a manager's code: mDNS, the guest door, a learner.

Three founding devices run in their own network namespaces on one bridge (real
mDNS, no static addresses); a fourth host has nothing but a data directory.
``tablemesh node --enrol CODE`` on it finds the site by mDNS, proves the code at
a guest door (a follower sends it to the leader), is committed to the roster,
starts as a learner and catches up; it then sells through the leader. A wrong
code and a reused code are refused with the site's message and exit 1, and are
counted on the leader.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cluster import NetnsCluster, wait_for
from tests.support.netns import NetnsLab
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.netns, pytest.mark.timeout(240)]

JOIN_TIMEOUT_S = 60.0


def _enrol_argv(data: Path, code: str, name: str, bind: str) -> list[str]:
    return [sys.executable, "-m", "mesh", "node", "--data", str(data), "--enrol", code,
            "--name", name, "--bind", bind, "--site", "joins"]  # fmt: skip


def test_a_new_device_joins_with_a_code_found_by_mdns(
    tmp_path: Path, reaper: ProcessReaper, netns_lab: Callable[[int], NetnsLab]
) -> None:
    lab = netns_lab(4)
    cluster = NetnsCluster(tmp_path / "s", reaper, lab, site="joins", devices=3)
    cluster.start()
    leader = cluster.leader(timeout=30)
    follower = next(n for n in cluster.names if n != leader)
    newcomer = lab.hosts[3]
    data = tmp_path / "s" / "n4"
    bind = f"tcp://{newcomer.address}:7400"

    # A wrong code: refused with the site's words, nothing written but the key.
    wrong = subprocess.run(
        lab.exec_args(newcomer, _enrol_argv(data, "0000-0000", "n4", bind)),
        capture_output=True,
        text=True,
        timeout=JOIN_TIMEOUT_S,
        check=False,
    )
    assert wrong.returncode == 1, wrong.stderr[-2000:]
    assert "wrong_code" in wrong.stderr and "not valid" in wrong.stderr
    assert not (data / "node.json").exists()

    made = cluster.client(leader).call("enrol_code", ttl_s=300)
    assert made["ok"], made
    cluster.names.append("n4")
    cluster.hosts["n4"] = newcomer
    cluster.procs["n4"] = reaper.spawn(
        lab.exec_args(newcomer, _enrol_argv(data, made["code"].lower(), "n4", bind)),
        log=tmp_path / "n4-join.log",
    )
    wait_for("n4 to be enrolled and serving", lambda: cluster.status("n4"), JOIN_TIMEOUT_S)
    joined_log = (tmp_path / "n4-join.log").read_text(errors="replace")
    assert "enrolled as n4 at site joins" in joined_log

    def learner_caught_up() -> bool:
        members = cluster.client(leader).members()["members"]
        row = next((m for m in members if m["node"] == "n4"), None)
        st = cluster.status("n4")
        return (
            row is not None
            and not row["voter"]
            and st["applied_index"] >= cluster.status(leader)["applied_index"] - 1
        )

    wait_for("n4 to be a caught-up learner", learner_caught_up, JOIN_TIMEOUT_S)
    # Its check IDs have a prefix of their own (none of the founders').
    founders = {cluster.client(n).status()["device"]["prefix"] for n in cluster.names[:3]}
    assert cluster.status("n4")["device"]["prefix"] not in founders
    check = cluster.open_check(via="n4", table="9")
    assert check.startswith(cluster.status("n4")["device"]["prefix"])
    cluster.converged(timeout=60)

    # The same code again, by another device: used.
    other = tmp_path / "other"
    reused = subprocess.run(
        lab.exec_args(
            newcomer, _enrol_argv(other, made["code"], "n5", f"tcp://{newcomer.address}:7401")
        ),
        capture_output=True,
        text=True,
        timeout=JOIN_TIMEOUT_S,
        check=False,
    )
    assert reused.returncode == 1, reused.stderr[-2000:]
    assert "used_code" in reused.stderr
    leader_now = cluster.leader(timeout=30)
    counters = cluster.status(leader_now)["counters"]
    assert counters.get("enrol.accepted", 0) + counters.get("enrol.refused.used_code", 0) >= 1
    door = cluster.status(follower)["counters"]
    assert door.get("guest.zap.admitted", 0) + counters.get("guest.zap.admitted", 0) >= 1
