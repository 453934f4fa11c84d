"""Real clusters of node processes on 127.0.0.1: elect, replicate, survive kill -9.

Every node is a separate ``tablemesh node`` process started through the reaper;
every wait is bounded. The exactly-once checks rely on one ledger fact: each
``add_items`` carries its command id in the line's note, so a command applied
twice would show as two lines with the same note.
"""

from __future__ import annotations

import collections
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from mesh.client.api import ClientError
from tests.support.cluster import Cluster, wait_for
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(300)


def add_soda(check: str, cid: str) -> dict[str, Any]:
    return {
        "type": "add_items",
        "id": cid,
        "by": "s-ana",
        "check": check,
        "items": [{"item": "soda", "qty": 1, "note": cid}],
    }


def notes_on(cluster: Cluster, via: str, check: str) -> collections.Counter[str]:
    reply = cluster.client(via).checks(check=check)
    assert reply["ok"], reply
    return collections.Counter(line["note"] for line in reply["check"]["lines"])


@pytest.mark.parametrize("size", [3, 5])
def test_a_cluster_elects_replicates_and_agrees(
    size: int, tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=size)
    cluster.start()
    leader = cluster.leader()
    follower = next(n for n in cluster.names if n != leader)
    checks = [cluster.open_check(via) for via in (leader, follower)]
    for i in range(10):
        reply = cluster.client(cluster.names[i % size]).submit(add_soda(checks[i % 2], f"c{i}"))
        assert reply["ok"], reply
    digest = cluster.converged()
    for name in cluster.names:
        st = cluster.status(name)
        assert st["state_hash"] == digest
        assert st["leader"] == leader
    # Read-your-writes: a follower that acknowledged a write shows it at once.
    reply = cluster.client(follower).submit(add_soda(checks[0], "ryw"))
    assert reply["ok"]
    assert notes_on(cluster, follower, checks[0])["ryw"] == 1
    members = cluster.client(leader).members()["members"]
    assert sum(m["voter"] for m in members) == 3
    assert {m["node"] for m in members} == set(cluster.names)


def test_a_duplicate_command_id_is_applied_once(tmp_path: Path, reaper: ProcessReaper) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    check = cluster.open_check(cluster.names[0])
    first = cluster.client("n1").submit(add_soda(check, "same"))
    again = cluster.client("n2").submit(add_soda(check, "same"))
    assert first["ok"] and again["ok"]
    assert again.get("duplicate") is True
    assert again["index"] == first["index"]
    # n3 took part in neither submission: an acknowledgement says nothing of when it
    # applies, so read it once every node holds the same state.
    cluster.converged()
    assert notes_on(cluster, "n3", check)["same"] == 1


class Writer(threading.Thread):
    """Submits add_items through one node, retrying each id until acknowledged or out of time."""

    def __init__(self, cluster: Cluster, via: list[str], check: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.cluster, self.via, self.check, self.stop = cluster, via, check, stop
        self.acked: list[str] = []
        self.unknown: list[str] = []

    def run(self) -> None:
        n = 0
        while not self.stop.is_set() and n < 10_000:
            cid = f"w-{uuid.uuid4().hex[:12]}"
            n += 1
            done = False
            for attempt in range(20):  # retries reuse the id: applied at most once
                via = self.via[attempt % len(self.via)]
                try:
                    reply = self.cluster.client(via, timeout=8).submit(
                        add_soda(self.check, cid), timeout=3
                    )
                except ClientError:
                    time.sleep(0.05)
                    continue
                if reply["ok"]:
                    self.acked.append(cid)
                    done = True
                    break
                assert reply["error"]["code"] in {"timeout", "no_quorum"}, reply
            if not done:
                self.unknown.append(cid)


def test_kill_9_the_leader_under_load_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=5)
    cluster.start()
    leader = cluster.leader()
    others = [n for n in cluster.names if n != leader]
    check = cluster.open_check(others[0])
    stop = threading.Event()
    # Writers submit through followers (so they survive the leader's death) and the leader.
    writers = [
        Writer(cluster, [others[i % 4], others[(i + 1) % 4]], check, stop) for i in range(3)
    ] + [Writer(cluster, [leader, others[0]], check, stop)]
    for w in writers:
        w.start()
    try:
        wait_for("writes before the crash", lambda: sum(len(w.acked) for w in writers) > 30, 30)
        cluster.kill(leader)
        before = sum(len(w.acked) for w in writers)
        new_leader = cluster.leader(among=others, timeout=20)
        assert new_leader != leader
        wait_for(
            "writes after the crash",
            lambda: sum(len(w.acked) for w in writers) > before + 30,
            30,
        )
    finally:
        stop.set()
        for w in writers:
            w.join(60)
    cluster.start([leader])  # the old leader comes back and catches up
    cluster.converged(timeout=60)
    acked = [cid for w in writers for cid in w.acked]
    unknown = {cid for w in writers for cid in w.unknown}
    for name in cluster.names:
        notes = notes_on(cluster, name, check)
        assert all(count == 1 for count in notes.values()), f"{name} applied a command twice"
        missing = [cid for cid in acked if notes[cid] != 1]
        assert not missing, f"{name} lost acknowledged commands {missing[:5]}"
        assert set(notes) <= set(acked) | unknown


def test_a_follower_killed_and_restarted_catches_up_from_a_snapshot(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(
        tmp_path / "s", reaper, nodes=3, tweak=lambda raw: raw.update(snapshot_every=50)
    )
    cluster.start()
    leader = cluster.leader()
    victim = next(n for n in cluster.names if n != leader)
    check = cluster.open_check(leader)
    cluster.kill(victim)
    for i in range(150):  # three snapshots' worth while it is down
        assert cluster.client(leader).submit(add_soda(check, f"s{i}"))["ok"]
    # A snapshot is encoded in the background and stored once done: the last one
    # may still be on its way when the last command is acknowledged.
    wait_for(
        "the leader's log compacted past 100",
        lambda: cluster.status(leader)["snapshot_index"] > 100,
        30,
    )
    cluster.start([victim])
    cluster.converged(timeout=60)
    assert len(notes_on(cluster, victim, check)) == 150
    # It caught up from the leader's snapshot, not by replaying a log the leader no longer has.
    assert cluster.status(victim)["snapshot_index"] > 0


def test_kill_9_every_node_and_restart_loses_nothing(tmp_path: Path, reaper: ProcessReaper) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    check = cluster.open_check("n1")
    for i in range(40):
        assert cluster.client(cluster.names[i % 3]).submit(add_soda(check, f"k{i}"))["ok"]
    cluster.converged()
    before = cluster.status("n1")["applied_index"]
    for name in list(cluster.names):
        cluster.kill(name)
    cluster.start()
    cluster.leader()
    # The newest commit index may not have reached the disk before the kill (it is
    # written with the next batch), so a restarted node can sit one entry short and
    # look converged. The new term's first entry commits everything before it: wait
    # until every node has applied it.
    wait_for(
        "the new term's first entry applied everywhere",
        lambda: all(cluster.status(n)["applied_index"] > before for n in cluster.names),
        30,
    )
    cluster.converged()
    for name in cluster.names:
        assert len(notes_on(cluster, name, check)) == 40


def test_sigterm_on_the_leader_hands_over_without_an_election_timeout(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    leader = cluster.leader()
    others = [n for n in cluster.names if n != leader]
    check = cluster.open_check(others[0])
    cluster.kill(leader, signal.SIGTERM)
    new = cluster.leader(among=others, timeout=10)
    assert cluster.status(new)["term"] >= 2
    assert cluster.client(others[0]).submit(add_soda(check, "after"))["ok"]
    assert "leadership handed over" in cluster.log_tail(leader, 50)


def test_a_minority_says_it_has_no_quorum_and_never_pretends(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    cluster.leader()
    survivor = "n3"
    check = cluster.open_check(survivor)
    cluster.kill("n1")
    cluster.kill("n2")
    wait_for("the dot to say cut off", lambda: cluster.status(survivor)["dot"] == "cut_off", 10)
    reply = cluster.client(survivor).submit(add_soda(check, "lonely"), timeout=1.5)
    assert not reply["ok"]
    assert reply["error"]["code"] in {"no_quorum", "timeout"}
    cluster.start(["n1", "n2"])
    cluster.converged(timeout=60)
    # The refused write was never acknowledged; if it reached a log it is applied once.
    assert notes_on(cluster, survivor, check)["lonely"] <= 1


def test_the_node_fills_device_made_ids_and_says_what_device_it_is(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    follower = next(n for n in cluster.names if n != cluster.leader())
    client = cluster.client(follower)
    check = cluster.open_check(follower)
    added = client.submit(
        {"type": "add_items", "by": "s-ana", "check": check,
         "items": [{"item": "soda", "qty": 1}, {"item": "fries", "qty": 1}]}
    )  # fmt: skip
    assert added["ok"], added
    _first, second = added["outcome"]["lines"]
    # A split's new checks are temporary IDs of the device that asked for the split.
    split = client.submit(
        {"type": "split_check", "by": "s-ana", "check": check, "parts": [{"lines": [second]}]}
    )
    assert split["ok"], split
    (new_check,) = split["outcome"]["checks"]
    prefix = check.split("-")[0]
    assert new_check.startswith(prefix + "-") and new_check != check
    lines = client.checks(check=new_check)["check"]["lines"]
    assert [line["id"] for line in lines] == [second]
    st = cluster.status(follower)
    assert st["device"]["prefix"] == prefix
    assert set(st["device"]) == {"role", "station", "prefix"}
    assert "last_sync_ms" in st["cloud"]


def test_ctl_makes_an_enrolment_code_and_revokes_a_device(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    import json
    import subprocess
    import sys

    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    leader = cluster.leader()
    victim = next(n for n in cluster.names if n != leader)

    def ctl(*argv: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [sys.executable, "-m", "mesh", "ctl", "--data", str(cluster.data(leader)),
             "--json", *argv],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.returncode, json.loads(done.stdout)

    code, made = ctl("enrol-code", "--ttl", "120")
    assert code == 0 and made["ok"], made
    assert len(made["code"]) == 9 and made["code"][4] == "-"
    code, revoked = ctl("revoke", victim)
    assert code == 0 and revoked["ok"], revoked
    code, again = ctl("revoke", "nobody")
    assert code == 1 and again["error"]["code"] == "not_found"
    wait_for(
        f"{victim} to leave the configuration",
        lambda: victim not in cluster.status(leader)["voters"],
        30,
    )
    assert cluster.client(leader).submit(add_soda(cluster.open_check(leader), "after"))["ok"]
