"""Smoke test for bench/: the side-by-side harness runs and the plots draw.

A tiny run with a peer (PySyncObj in memory, 3 processes on loopback) checks that
commits are acknowledged and counted; nothing about time is asserted, because the
machines the suite runs on are shared and noisy. The plots are drawn from a small
made-up result file.
"""

from __future__ import annotations

import gc
import json
import socket
from pathlib import Path

import pytest

pytest.importorskip("pysyncobj")
pytest.importorskip("matplotlib")

from bench import cluster, peers, plots


def test_harness_counts_acknowledged_commits_of_a_peer() -> None:
    system = peers.PySyncObj(3, journal=False, batch=False)
    try:
        result = peers.measure(system, clients=2, seconds=0.5)
    finally:
        system.close()
    assert result["commits"] > 0
    assert result["errors"] == 0
    assert 0 < len(result["samples_ms"]) <= result["commits"]


def test_paced_clients_send_on_their_beat_not_flat_out() -> None:
    # The dinner rush: each client sends at most one command per beat, so the count
    # is bounded by the beats whatever the system's speed (flat out it is hundreds).
    system = peers.PySyncObj(3, journal=False, batch=False)
    try:
        result = peers.measure(system, clients=4, seconds=1.0, per_client_hz=5.0)
    finally:
        system.close()
    assert result["errors"] == 0
    assert result["per_client_hz"] == 5.0
    assert 4 <= result["commits"] <= 4 * 7


def test_a_mesh_client_step_is_one_command_even_when_it_opens_the_next_check() -> None:
    # Every sample of the dinner rush is one command: the step that starts a new
    # table's check sends its open_check alone, and the next step adds to it.
    site = cluster.Site(3)
    try:
        leader = site.leader()
        client = cluster.Client(site, leader)
        try:
            client.LINES_PER_CHECK = 2
            first_check = client.check
            before = site.status(leader)["applied_index"]
            for n in range(1, 6):  # add, add, open_check, add, add
                _, ok = client.step()
                assert ok
                assert site.status(leader)["applied_index"] == before + n
            assert client.check != first_check
            assert client.lines == 2
        finally:
            client.conn.close()
    finally:
        site.close()


def test_a_peer_socket_not_yet_listening_is_refused_without_leaking(tmp_path: Path) -> None:
    # A PySyncObj node binds its socket a moment before it listens; the leader probe
    # that connects in that moment is refused and must close its own socket (the
    # suite turns the garbage collector's ResourceWarning into an error).
    path = tmp_path / "p.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as bound:
        bound.bind(str(path))
        with pytest.raises(OSError):
            peers._LineClient(path)
        gc.collect()


def test_plots_draw_from_result_files(tmp_path: Path) -> None:
    runs = [
        {"system": s, "nodes": 3, "clients": c, "commits_per_s": 100.0 * c, "p50_ms": 1.0,
         "p99_ms": 2.0 * c, "samples_ms": [0.5, 1.0, 2.0]}
        for s in ("tablemesh", "pysyncobj-memory") for c in (1, 16, 64)
    ]  # fmt: skip
    machine = {"cores": 2}
    peers_json = {"machine": machine, "floor": {"fsync_p50_ms": 1.0, "fsync_plus_rtt_ms": 1.1}}
    (tmp_path / "peers.json").write_text(json.dumps({**peers_json, "runs": runs}))
    cluster = {
        "machine": machine,
        "floor": {"fsync": {"p50_ms": 1.0}},
        "5n_failover": {"median_ms": 400.0, "p99_ms": 900.0, "trials_ms": [300.0, 400.0, 900.0]},
        "5n_dinner_rush": {"samples_ms": [1.0, 2.0, 3.0]},
    }
    (tmp_path / "cluster.json").write_text(json.dumps(cluster))
    drawn = plots.draw_all(tmp_path)
    assert sorted(p.name for p in drawn) == [
        "bench-cluster-latency-cdf.png",
        "bench-failover.png",
        "bench-peers-latency-cdf-3n.png",
        "bench-peers-throughput-3n.png",
    ]
    assert all(p.stat().st_size > 1000 for p in drawn)


def test_the_embedded_client_commits_as_a_follower_and_as_the_leader() -> None:
    # bench/embedded_client.py hosts a node and its client in one process (as the
    # apps do); the bench measures it as a follower, then moves leadership to it.
    by_role = cluster.embedded(5)
    assert sorted(by_role) == ["follower", "leader"]
    assert [len(lat) for lat in by_role.values()] == [5, 5]
