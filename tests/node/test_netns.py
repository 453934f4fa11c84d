"""Nodes on separate network hosts (namespaces on a bridge): real mDNS, a real cut link.

No node has a static peer address: each knows only the other devices' keys, and
learns where they listen from their mDNS adverts. Then one host is unplugged:
the majority keeps serving, the minority says it has no quorum, and after the
link returns the two sides converge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cluster import NetnsCluster, wait_for
from tests.support.netns import NetnsLab
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.netns, pytest.mark.timeout(240)]


def test_mdns_finds_peers_and_a_cut_link_splits_then_heals(
    tmp_path: Path, reaper: ProcessReaper, netns_lab: Callable[[int], NetnsLab]
) -> None:
    lab = netns_lab(3)
    cluster = NetnsCluster(tmp_path / "s", reaper, lab)
    cluster.start()
    leader = cluster.leader(timeout=30)  # only possible once mDNS told them where to dial
    log = cluster.log_tail(leader, 200)
    assert "peer found by mDNS" in log
    reply = cluster.client(leader).submit(
        {"type": "open_check", "by": "s-ana", "table": "4", "guests": 2, "server": "s-ana"}
    )
    assert reply["ok"], reply
    check = reply["outcome"]["check"]

    # Unplug the leader's host: it is the minority now.
    cluster.lab.cut(cluster.hosts[leader])
    majority = [n for n in cluster.names if n != leader]
    new_leader = cluster.leader(among=majority, timeout=30)
    wait_for(
        "the old leader to say cut off", lambda: cluster.status(leader)["dot"] == "cut_off", 15
    )
    assert cluster.status(leader)["role"] != "leader"  # CheckQuorum: it stepped down
    ok = cluster.client(new_leader).submit(
        {"type": "add_items", "id": "during-cut", "by": "s-ana", "check": check,
         "items": [{"item": "soda", "qty": 1}]}
    )  # fmt: skip
    assert ok["ok"], ok
    refused = cluster.client(leader).submit(
        {"type": "add_items", "id": "minority", "by": "s-ana", "check": check,
         "items": [{"item": "ipa", "qty": 1}]},
        timeout=1.5,
    )  # fmt: skip
    assert not refused["ok"] and refused["error"]["code"] in {"no_quorum", "timeout"}

    cluster.lab.restore(cluster.hosts[leader])
    cluster.converged(timeout=60)
    lines = cluster.client(leader).checks(check=check)["check"]["lines"]
    assert [line["item"] for line in lines].count("soda") == 1


def test_a_learner_left_alone_with_a_deposed_leader_says_it_is_cut_off(
    tmp_path: Path, reaper: ProcessReaper, netns_lab: Callable[[int], NetnsLab]
) -> None:
    # Found by the fault soak (seeds 5037, 5041, 5043): a learner never campaigns,
    # so it kept the old leader as its leader; that leader, cut off from the other
    # voters, still gossiped to it, and the learner's dot stayed "in quorum".
    lab = netns_lab(4)
    cluster = NetnsCluster(tmp_path / "s", reaper, lab)  # 3 voters and the learner n4
    cluster.start()
    leader = cluster.leader(timeout=30)
    assert "n4" in cluster.status(leader)["learners"]
    wait_for("n4 to be in quorum", lambda: cluster.status("n4")["in_quorum"], 30)
    others = [n for n in cluster.names if n not in {leader, "n4"}]
    for name in others:  # the leader and the learner stay together, the voters go
        cluster.lab.cut(cluster.hosts[name])

    def cut_off(name: str) -> bool:
        st = cluster.status(name)
        return st["dot"] == "cut_off" and not st["in_quorum"]

    wait_for("the deposed leader to say cut off", lambda: cut_off(leader), 15)
    wait_for("the learner to say cut off", lambda: cut_off("n4"), 15)
    for name in others:
        cluster.lab.restore(cluster.hosts[name])
    wait_for("n4 back in quorum", lambda: cluster.status("n4")["in_quorum"], 30)
