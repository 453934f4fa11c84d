"""Fuzzing live nodes: their ROUTER with an enrolled key, and their control socket.

The decoder itself is fuzzed in tests/net (random bytes, mutated frames, wrong
fields); tests/node/test_bad_input.py sends random bytes to a live ROUTER. Here
hypothesis drives frames that get further: well-formed msgpack in the node's
frame layout, with the real kinds (``fwd``, ``fwd_reply``, ``status``) and bodies
that are valid, nearly valid or junk, from a DEALER holding an enrolled device's
key (so the frames pass CURVE and the ZAP allowlist and reach decode and
dispatch). Raft frames are left out on purpose: an enrolled peer may legitimately
move terms. Then the control socket gets JSON-ish lines. Each time the node must
keep answering, and the site must still agree afterwards.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh.net import constants as net_constants
from mesh.net.keys import load_or_create_keypair
from mesh.node import config as cfg
from tests.support.cluster import Cluster, wait_for
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(240)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
names = st.sampled_from(["n1", "n2", "n3", "n9", "", "x" * 80])
COMMAND_TYPES = [
    "open_check",
    "add_items",
    "pay",
    "fire",
    "bump",
    "close_day",
    "refire",
    "catalog_update",
    "check_numbered",
    "nope",
]


@st.composite
def commands(draw: st.DrawFn) -> dict[str, Any]:
    cmd: dict[str, Any] = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=4))
    cmd["type"] = draw(st.sampled_from(COMMAND_TYPES))
    if draw(st.booleans()):
        cmd["by"] = draw(st.sampled_from(["s-ana", "@sync", "@setup", "k-dev", "nobody"]))
    return cmd


@st.composite
def bodies(draw: st.DrawFn, origin: str) -> tuple[str, Any]:
    kind = draw(st.sampled_from(["fwd", "fwd_reply", "status", "junk"]))
    if draw(st.integers(0, 3)) == 0:
        return kind, draw(msgpack_values)
    if kind == "fwd":
        body: dict[str, Any] = {
            "req_id": draw(st.text(min_size=1, max_size=20)),
            "origin": draw(st.sampled_from([origin, origin, "n9"])),
            "command": draw(commands()),
        }
    elif kind == "fwd_reply":
        ok = draw(st.booleans())
        body = {
            "req_id": draw(st.text(min_size=1, max_size=20)),
            "ok": ok,
            "index": draw(st.integers(0, 2**40)),
            "outcome": draw(
                st.none() | st.dictionaries(st.text(max_size=6), json_values, max_size=3)
            ),
            "error": None if ok else {"code": "x", "message": draw(st.text(max_size=20))},
            "leader": draw(st.none() | names),
        }
    else:
        body = {
            "node": draw(st.sampled_from([origin, origin, "n9"])),
            "role": draw(st.sampled_from(["leader", "follower", "zzz"])),
            "term": draw(st.integers(0, 2**40)),
            "applied": draw(st.integers(0, 2**40)),
            "leader": draw(st.none() | names),
            "dot": draw(st.sampled_from(["red", "green", "cut_off", "?"])),
            "extra": draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "cloud": json_values,
                        "backlog": json_values,
                        "oldest_ms": json_values,
                    },
                )
            ),
        }
    if body and draw(st.integers(0, 4)) == 0:  # one field wrong
        key = draw(st.sampled_from(sorted(body)))
        body[key] = draw(msgpack_values)
    return kind, body


def _frame(kind: str, body: Any, version: int) -> bytes:
    data = msgpack.packb([version, kind, body], use_bin_type=True)
    assert isinstance(data, bytes)
    return data


def _dealer(
    ctx: zmq.Context[zmq.Socket[bytes]],
    identity: str,
    server_key: str,
    public: str,
    secret: str,
    address: str,
) -> zmq.Socket[bytes]:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDTIMEO, 5000)  # a send never blocks the test for long
    sock.setsockopt(zmq.IDENTITY, identity.encode())
    sock.curve_serverkey = server_key.encode()
    sock.curve_publickey = public.encode()
    sock.curve_secretkey = secret.encode()
    sock.connect(address)
    return sock


def test_structured_frames_from_an_enrolled_key_never_stop_a_node(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=3)
    cluster.start()
    leader = cluster.leader()
    impersonated = next(n for n in cluster.names if n != leader)
    cluster.kill(impersonated)  # frees its identity for the fuzzer
    keys = load_or_create_keypair(cluster.data(impersonated) / cfg.KEYS_DIR)
    targets = [n for n in cluster.names if n != impersonated]
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sent = 0
    dealers: list[zmq.Socket[bytes]] = []
    try:
        for target in targets:
            conf = cfg.load(cluster.data(target))
            server = load_or_create_keypair(cluster.data(target) / cfg.KEYS_DIR).public
            dealers.append(_dealer(ctx, impersonated, server, keys.public, keys.secret, conf.bind))

        @settings(
            max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(bodies(impersonated), st.sampled_from([net_constants.PROTOCOL_VERSION] * 5 + [0, 2]))
        def fuzz(kind_body: tuple[str, Any], version: int) -> None:
            nonlocal sent
            kind, body = kind_body
            for dealer in dealers:
                dealer.send(_frame(kind, body, version))
            sent += 1

        fuzz()
        time.sleep(1.0)  # let the nodes chew on the last frames
        for target in targets:
            st_ = cluster.status(target)  # the control socket still answers, status renders
            assert st_["ok"]
            assert cluster.client(target).members()["ok"]
    finally:
        for dealer in dealers:
            dealer.close()
        ctx.term()
    assert sent >= 100
    for target in targets:
        check = cluster.open_check(target, server="s-ben")
        assert cluster.client(target).checks(check=check)["ok"]
    cluster.start([impersonated])
    cluster.converged(timeout=60)


# -- the control socket ---------------------------------------------------------------

KNOWN_OPS = [
    "status",
    "submit",
    "state",
    "checks",
    "tickets",
    "members",
    "catalog",
    "query",
    "clock_offset",
    "approve",
]  # watch and login wait or lock by design


@st.composite
def control_lines(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        raw = draw(st.binary(max_size=200))
    elif choice == 1:
        raw = draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    elif choice == 2:
        raw = json.dumps(draw(json_values)).encode()
    else:
        request: dict[str, Any] = draw(
            st.dictionaries(st.text(max_size=8), json_values, max_size=4)
        )
        request["op"] = draw(st.sampled_from(KNOWN_OPS) | st.text(max_size=10) | json_values)
        if request["op"] == "submit" and draw(st.booleans()):
            request["command"] = draw(commands())
        if request["op"] == "approve":
            request["pin"] = draw(st.sampled_from(["x", "", "12a"]))  # never a real PIN check
        raw = json.dumps(request).encode()
    return raw.replace(b"\n", b" ").replace(b"\r", b" ") + b"\n"


def _readline(sock: socket.socket, buf: bytearray) -> bytes:
    deadline = time.monotonic() + 20
    while b"\n" not in buf:
        assert time.monotonic() < deadline, "no reply within 20 s"
        chunk = sock.recv(65536)
        assert chunk, "the node closed the control connection"
        buf.extend(chunk)
    end = buf.index(b"\n")
    line = bytes(buf[: end + 1])
    del buf[: end + 1]
    return line


def test_junk_lines_on_the_control_socket_always_get_a_json_answer(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=1)
    cluster.start()
    cluster.leader()
    path = cfg.control_socket_path(cluster.data("n1"))
    answered = 0
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(20)
        sock.connect(str(path))
        buf = bytearray()

        @settings(
            max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(control_lines())
        def fuzz(line: bytes) -> None:
            nonlocal answered
            sock.sendall(line)
            reply = json.loads(_readline(sock, buf))
            assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool), reply
            if not reply["ok"]:
                error = reply.get("error")
                assert isinstance(error, dict) and isinstance(error.get("code"), str), reply
                assert error["code"] != "internal", (line, reply)
            answered += 1

        fuzz()
        sock.sendall(b'{"op": "status"}\n')
        assert json.loads(_readline(sock, buf))["ok"] is True
    assert answered >= 100
    wait_for("the node to still serve", lambda: cluster.status("n1")["ok"], 10)
    check = cluster.open_check("n1", server="s-ben")
    assert cluster.client("n1").checks(check=check)["ok"]
