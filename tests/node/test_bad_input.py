"""Bad input never stops a node: garbage frames with and without an enrolled key,
oversized frames, junk on the control socket, and a truncated database file."""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

import pytest
import zmq

from mesh.net.keys import load_or_create_keypair
from mesh.node import config as cfg
from tests.support.cluster import Cluster, wait_for
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(180)


def _dealer(ctx: zmq.Context[zmq.Socket[bytes]], identity: str, server_key: str,
            public: bytes, secret: bytes, address: str) -> zmq.Socket[bytes]:  # fmt: skip
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, identity.encode())
    sock.curve_serverkey = server_key.encode()
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    sock.connect(address)
    return sock


def _counters(cluster: Cluster, name: str) -> dict[str, int]:
    counters: dict[str, int] = cluster.status(name)["counters"]
    return counters


def test_garbage_frames_are_dropped_and_counted_and_the_node_keeps_serving(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    target = cluster.leader()
    impersonated = next(n for n in cluster.names if n != target)
    cluster.kill(impersonated)  # so its identity is free for the test to use
    conf = cfg.load(cluster.data(target))
    server_key = cluster.data(target)
    node_public = load_or_create_keypair(server_key / cfg.KEYS_DIR).public
    rng = random.Random(7)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        # 1. A stranger's key: refused by the ZAP allowlist before any frame is read.
        pub, sec = zmq.curve_keypair()
        stranger = _dealer(ctx, "intruder", node_public, pub, sec, conf.bind)
        for _ in range(50):
            stranger.send(rng.randbytes(rng.randrange(1, 300)), zmq.NOBLOCK)
        # 2. An enrolled key (the stopped node's): its garbage reaches decode and is dropped.
        keys = load_or_create_keypair(cluster.data(impersonated) / cfg.KEYS_DIR)
        enrolled = _dealer(
            ctx, impersonated, node_public, keys.public.encode(), keys.secret.encode(), conf.bind
        )
        for _ in range(200):
            enrolled.send(rng.randbytes(rng.randrange(1, 300)))
        enrolled.send(b"\x93" + os.urandom(64))  # looks like msgpack, is not ours
        enrolled.send(b"x" * (5 * 1024 * 1024))  # over the frame limit
        enrolled.send_multipart([b"two", b"frames"])
        wait_for(
            "the drops to be counted",
            lambda: (
                sum(v for k, v in _counters(cluster, target).items() if k.startswith("rx.dropped"))
                >= 200
            ),
            20,
        )
        counters = _counters(cluster, target)
        assert counters.get("zap.refused.key", 0) >= 1
        stranger.close()
        enrolled.close()
    finally:
        ctx.term()
    # Still serving, still agreeing.
    check = cluster.open_check(target, server="s-ben")
    assert cluster.client(target).checks(check=check)["ok"]
    cluster.start([impersonated])
    cluster.converged()


def test_junk_on_the_control_socket_gets_an_error_and_the_socket_keeps_working(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=1)
    cluster.start()
    path = cfg.control_socket_path(cluster.data("n1"))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        f = s.makefile("rwb")
        for junk in (b"not json\n", b"[1,2]\n", b'{"op": 5}\n', b'{"op": "nope"}\n', b"\xff\xfe\n"):
            f.write(junk)
            f.flush()
            assert b'"ok":false' in f.readline()
        f.write(b'{"op": "status"}\n')
        f.flush()
        assert b'"ok":true' in f.readline()
        f.close()
    reply = cluster.client("n1").submit({"type": "open_check", "by": "@setup", "table": "1"})
    assert reply["error"]["code"] == "forbidden"  # a client cannot act as the system
    client = cluster.client("n1")
    assert client.call("status", hash="no")["error"]["code"] == "bad_request"
    assert client.status(with_hash=False)["state_hash"] is None  # a screen's poll: no hash
    assert len(client.status()["state_hash"]) == 64


def test_a_command_with_an_unusable_id_is_refused_at_once_and_blocks_nothing(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    leader = cluster.leader()
    follower = next(n for n in cluster.names if n != leader)
    bad_ids = {leader: (7, True, ["l"], "", "x" * 65, 0), follower: (8, False, ["m"], "y" * 65, 1)}
    for via, bads in bad_ids.items():  # a follower forwards to the leader
        client = cluster.client(via)
        for bad in bads:
            command = {"type": "open_check", "by": "s-ana", "table": "9", "id": bad}
            reply = client.submit(command, timeout=20)
            # Refused before it is proposed: not a timeout after 20 s, and nothing applied.
            assert reply["error"]["code"] == "invalid", (bad, reply)
            assert "1 to 64 characters" in reply["error"]["message"]
        # The same ids as text are free: none of the refused ones left a waiter behind.
        for good in [str(bad) for bad in bads if 0 < len(str(bad)) <= 64]:
            command = {"type": "open_check", "by": "s-ana", "table": "9", "id": good}
            reply = client.submit(command, timeout=20)
            assert reply["ok"] and not reply.get("duplicate"), reply
    cluster.converged()


def _busy_cluster_with_a_victim(tmp_path: Path, reaper: ProcessReaper) -> tuple[Cluster, str, str]:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    leader = cluster.leader()
    victim = next(n for n in cluster.names if n != leader)
    check = cluster.open_check(leader, server="s-ben")
    for i in range(100):
        item = {"item": "fries", "qty": 1, "note": f"n{i}" + "x" * 120}
        cmd = {"type": "add_items", "id": f"t{i}", "by": "s-ben", "check": check, "items": [item]}
        reply = cluster.client(leader).submit(cmd)
        assert reply["ok"], reply
    cluster.converged()
    cluster.kill(victim)
    return cluster, victim, check


def _rejoined(cluster: Cluster, victim: str, check: str) -> None:
    cluster.converged(timeout=60)
    lines = cluster.client(victim).checks(check=check)["check"]["lines"]
    assert len(lines) == 100
    # Whole again: the marker that made it abstain from votes is gone.
    wait_for(
        "the lost-state marker to go",
        lambda: not (cluster.data(victim) / cfg.LOST_MARKER_FILE).exists(),
        30,
    )


def test_an_unreadable_database_is_moved_aside_and_the_node_rejoins(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster, victim, check = _busy_cluster_with_a_victim(tmp_path, reaper)
    db = cluster.data(victim) / cfg.DB_FILE
    with db.open("r+b") as f:
        f.write(b"\x00garbage, not SQLite" * 8)  # the header is gone
    for side in ("-wal", "-shm"):
        # The write-ahead log would hold a good copy of the header page: lose it too.
        db.with_name(db.name + side).unlink(missing_ok=True)
    cluster.start([victim])
    _rejoined(cluster, victim, check)
    assert "store is corrupt" in cluster.log_tail(victim, 400)
    assert any(p.name.startswith("raft.db.corrupt-") for p in cluster.data(victim).iterdir())


def test_a_store_that_lost_acknowledged_entries_abstains_and_is_caught_up(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    # A deleted write-ahead log leaves a valid but old database: SQLite cannot tell.
    # The leader's commit index, past the node's log, proves the loss.
    cluster, victim, check = _busy_cluster_with_a_victim(tmp_path, reaper)
    db = cluster.data(victim) / cfg.DB_FILE
    for side in ("-wal", "-shm"):
        db.with_name(db.name + side).unlink(missing_ok=True)
    cluster.start([victim])
    _rejoined(cluster, victim, check)
    tail = cluster.log_tail(victim, 400)
    assert "lost entries it had stored" in tail and "a full member" in tail
