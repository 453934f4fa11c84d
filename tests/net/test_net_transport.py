"""The CURVE transport on 127.0.0.1: delivery, the ZAP allowlist, revocation, bad frames, moves.

Each test is a plain sync test running one ``asyncio.run`` with bounded waits, and
closes every transport and raw socket in ``finally``; ``no_fd_leaks`` and the suite's
``leak_guard`` then check that no descriptor or thread is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import zmq
import zmq.asyncio

from mesh.net import constants, schema
from mesh.net.keys import KeyPair, generate_keypair
from mesh.net.schema import ForwardReply, ForwardRequest, NodeStatus, RaftEnvelope, WireMessage
from mesh.net.transport import CannotListen, PeerInfo, Transport, TransportClosed
from mesh.raft.types import (
    ConfState,
    Entry,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
)
from tests.net.net_helpers import eventually, no_fd_leaks

pytestmark = pytest.mark.usefixtures("no_fd_leaks")
__all__ = ["no_fd_leaks"]  # a fixture imported for use by pytestmark

SITE = "bistro"
RECV_WAIT = 0.2  # s; one bounded receive attempt
TEST_TIMEOUT = 30.0  # s; hard cap on each test's event loop


def run(test: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(test(), TEST_TIMEOUT)

    asyncio.run(bounded())


def address(port: int) -> str:
    return f"tcp://127.0.0.1:{port}"


def status(node: str, applied: int = 0) -> NodeStatus:
    return NodeStatus(
        node=node, role="follower", term=1, applied=applied, leader=None, dot="green", extra={}
    )


def vote(frm: str, to: str, term: int = 1) -> RaftEnvelope:
    return RaftEnvelope(
        site=SITE,
        message=Message(
            type=MessageType.APPEND,
            to=to,
            frm=frm,
            term=term,
            entries=(Entry(term=term, index=1, data=b"open check"),),
        ),
    )


class Cluster:
    """N transports on loopback, each allowing and dialling all the others."""

    def __init__(self, names: list[str], free_port: Callable[[], int]) -> None:
        self.keys: dict[str, KeyPair] = {name: generate_keypair() for name in names}
        self.ports: dict[str, int] = {name: free_port() for name in names}
        self.nodes: dict[str, Transport] = {}
        for name in names:
            others = [other for other in names if other != name]
            self.nodes[name] = Transport(
                node_id=name,
                site=SITE,
                bind_addr=address(self.ports[name]),
                keypair=self.keys[name],
                peers={
                    other: PeerInfo(
                        address=address(self.ports[other]), public_key=self.keys[other].public
                    )
                    for other in others
                },
                allowed_keys={other: self.keys[other].public for other in others},
            )

    def __getitem__(self, name: str) -> Transport:
        return self.nodes[name]


@contextlib.asynccontextmanager
async def running(*transports: Transport) -> AsyncIterator[None]:
    try:
        for transport in transports:
            await transport.start()
        yield
    finally:
        for transport in transports:
            await transport.close()


async def recv_within(transport: Transport, seconds: float) -> tuple[str, WireMessage] | None:
    try:
        return await asyncio.wait_for(transport.recv(), seconds)
    except TimeoutError:
        return None


async def deliver(
    sender: Transport, peer: str, message: WireMessage, receiver: Transport, timeout: float = 10.0
) -> tuple[str, WireMessage]:
    """Send ``message`` until ``receiver`` gets it (Raft-style retries); return what arrived."""

    async def attempt() -> tuple[str, WireMessage] | None:
        sender.send(peer, message)
        got = await recv_within(receiver, RECV_WAIT)
        if got is not None and got[1] == message:
            return got
        return None

    return await eventually(attempt, timeout=timeout, interval=0)


async def nothing_arrives(receiver: Transport, seconds: float) -> bool:
    return await recv_within(receiver, seconds) is None


# --- delivery -------------------------------------------------------------------


def test_two_transports_exchange_every_kind_of_message_over_curve(
    free_port: Callable[[], int],
) -> None:
    cluster = Cluster(["t1", "k1"], free_port)
    a, b = cluster["t1"], cluster["k1"]

    async def scenario() -> None:
        async with running(a, b):
            messages: list[WireMessage] = [
                vote("t1", "k1"),
                status("t1", applied=3),
                ForwardRequest(req_id="r1", origin="t1", command={"op": "bump", "ticket": 12}),
                ForwardReply.not_leader("r1", "k1"),
            ]
            for message in messages:
                assert await deliver(a, "k1", message, b) == ("t1", message)
            reply = ForwardReply(req_id="r1", ok=True, index=9, outcome={"ok": 1}, error=None)
            assert await deliver(b, "t1", reply, a) == ("k1", reply)
            assert a.connected_peers() == {"k1"} and b.connected_peers() == {"t1"}
            # Once connected, a burst goes through without loss or reordering.
            burst = [status("t1", applied=i) for i in range(200)]
            assert all(a.send("k1", m) for m in burst)
            got = [await asyncio.wait_for(b.recv(), 5) for _ in burst]
            assert got == [("t1", m) for m in burst]
            assert a.counters()["tx.sent"] >= 204
            assert b.counters()["rx.accepted"] >= 204
            assert b.counters()["zap.accepted"] >= 1

    run(scenario)


def test_a_big_days_snapshot_travels_in_one_frame(free_port: Callable[[], int]) -> None:
    # After 100,000 add_items in one business day the snapshot was 4.8 MB (zlib): a
    # follower that fell behind such a day must still be able to get it.
    cluster = Cluster(["t1", "k1"], free_port)
    a, b = cluster["t1"], cluster["k1"]
    data = bytes(range(256)) * (6 * 1024 * 1024 // 256)  # 6 MiB, past the old 4 MiB limit
    snap = Snapshot(
        meta=SnapshotMeta(index=105_077, term=21, conf=ConfState(voters=frozenset({"t1", "k1"}))),
        data=data,
    )
    message = RaftEnvelope(
        site=SITE,
        message=Message(type=MessageType.SNAPSHOT, to="k1", frm="t1", term=21, snapshot=snap),
    )

    async def scenario() -> None:
        async with running(a, b):
            assert await deliver(a, "k1", message, b) == ("t1", message)

    run(scenario)


def test_three_transports_all_reach_each_other(free_port: Callable[[], int]) -> None:
    names = ["t1", "t2", "k1"]
    cluster = Cluster(names, free_port)

    async def scenario() -> None:
        async with running(*cluster.nodes.values()):
            for sender in names:
                for receiver in names:
                    if sender != receiver:
                        message = vote(sender, receiver, term=3)
                        got = await deliver(cluster[sender], receiver, message, cluster[receiver])
                        assert got == (sender, message)

    run(scenario)


def test_wildcard_port_binds_and_reports_the_real_endpoint() -> None:
    transport = Transport(
        node_id="t1", site=SITE, bind_addr="tcp://127.0.0.1:*", keypair=generate_keypair()
    )

    async def scenario() -> None:
        async with running(transport):
            assert transport.bound_address.startswith("tcp://127.0.0.1:")
            assert not transport.bound_address.endswith(":*")

    run(scenario)


# --- the allowlist --------------------------------------------------------------


def test_an_unenrolled_key_gets_nothing_through_and_the_receiver_keeps_serving(
    monkeypatch: pytest.MonkeyPatch, free_port: Callable[[], int]
) -> None:
    monkeypatch.setattr(constants, "AUTH_RETRY_S", 0.2)
    cluster = Cluster(["t1", "k1"], free_port)
    a, b = cluster["t1"], cluster["k1"]
    intruder_keys = generate_keypair()
    intruder = Transport(
        node_id="x9",
        site=SITE,
        bind_addr=address(free_port()),
        keypair=intruder_keys,
        peers={"k1": PeerInfo(address=address(cluster.ports["k1"]), public_key=b.public_key)},
    )

    async def scenario() -> None:
        async with running(a, b, intruder):
            # Even claiming an enrolled node's id in the message does not help.
            for _ in range(20):
                intruder.send("k1", status("x9"))
                intruder.send("k1", vote("t1", "k1"))
                assert await nothing_arrives(b, 0.05)
            assert await deliver(a, "k1", status("t1"), b) == ("t1", status("t1"))

            def refused() -> int:
                return b.counters().get("zap.refused.key", 0)

            async def refused_twice() -> int | None:
                return refused() if refused() >= 2 else None

            # Refused, re-dialled after AUTH_RETRY_S, refused again: still nothing.
            await eventually(refused_twice, timeout=10)
            assert intruder.counters().get("link.handshake_failed", 0) >= 1
            assert intruder.connected_peers() == set()
            assert b.counters().get("rx.accepted", 0) >= 1
            assert await nothing_arrives(b, 0.3)

    run(scenario)


def test_a_key_enrolled_later_gets_through_after_the_redial(
    monkeypatch: pytest.MonkeyPatch, free_port: Callable[[], int]
) -> None:
    monkeypatch.setattr(constants, "AUTH_RETRY_S", 0.2)
    cluster = Cluster(["t1", "k1"], free_port)
    a, b = cluster["t1"], cluster["k1"]
    b.set_allowed_keys({})

    async def scenario() -> None:
        async with running(a, b):
            for _ in range(10):
                a.send("k1", status("t1"))
            assert await nothing_arrives(b, 0.5)
            b.set_allowed_keys({"t1": cluster.keys["t1"].public})
            assert await deliver(a, "k1", status("t1"), b) == ("t1", status("t1"))

    run(scenario)


def test_revoking_a_key_stops_its_frames_at_once_on_an_open_connection(
    free_port: Callable[[], int],
) -> None:
    cluster = Cluster(["t1", "t2", "k1"], free_port)
    a, c, b = cluster["t1"], cluster["t2"], cluster["k1"]

    async def scenario() -> None:
        async with running(a, b, c):
            assert await deliver(a, "k1", status("t1"), b)
            assert await deliver(c, "k1", status("t2"), b)
            b.set_allowed_keys({"t2": cluster.keys["t2"].public})  # t1 revoked
            # t1's connection is still up on its side, and its frames still leave...
            assert a.connected_peers() == {"k1", "t2"}
            for i in range(20):
                assert a.send("k1", status("t1", applied=i))
            # ...but none is accepted; t2, still enrolled, is served meanwhile.
            assert await deliver(c, "k1", status("t2", applied=1), b)
            assert await nothing_arrives(b, 0.3)
            assert b.counters()["rx.dropped.revoked"] == 20
            # Enrolling again lets the same connection through once more.
            b.set_allowed_keys({"t1": cluster.keys["t1"].public, "t2": cluster.keys["t2"].public})
            assert await deliver(a, "k1", status("t1", applied=99), b)

    run(scenario)


def test_allowlist_entries_are_validated() -> None:
    transport = Transport(
        node_id="t1", site=SITE, bind_addr="tcp://127.0.0.1:*", keypair=generate_keypair()
    )
    key = generate_keypair().public
    with pytest.raises(ValueError):
        transport.set_allowed_keys({"t2": "not a key"})
    with pytest.raises(ValueError):
        transport.set_allowed_keys({"bad id": key})
    with pytest.raises(ValueError):
        transport.set_allowed_keys({"t2": key, "t3": key})


# --- bad frames from an enrolled key ----------------------------------------------


class RawPeer:
    """A bare DEALER holding an enrolled key: it can send any bytes it likes."""

    def __init__(self, routing_id: str, keys: KeyPair, server: Transport, port: int) -> None:
        self.ctx = zmq.asyncio.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.routing_id = routing_id.encode()
        self.sock.curve_publickey = keys.public.encode()
        self.sock.curve_secretkey = keys.secret.encode()
        self.sock.curve_serverkey = server.public_key.encode()
        self.sock.connect(address(port))

    async def send(self, *frames: bytes) -> None:
        await asyncio.wait_for(self.sock.send_multipart(list(frames)), 5)

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


def test_garbage_from_an_enrolled_key_is_dropped_and_counted_while_good_frames_arrive(
    free_port: Callable[[], int],
) -> None:
    cluster = Cluster(["t1", "k1"], free_port)
    b = cluster["k1"]
    good = status("t1", applied=7)

    async def scenario() -> None:
        async with running(b):
            raw = RawPeer("t1", cluster.keys["t1"], b, cluster.ports["k1"])
            try:
                await raw.send(schema.encode(good))
                assert await asyncio.wait_for(b.recv(), 10) == ("t1", good)
                garbage = [
                    (b"\xc1\xc1\xc1",),  # not msgpack
                    (b"",),
                    (b"\x93\x07\xa6status\x80",),  # unknown version
                    (schema.encode(good), b"extra frame"),
                    (schema.encode(status("k1")),),  # claims to be someone else
                    (schema.encode(vote("t1", "t2")),),  # not addressed to us
                    (schema.encode(RaftEnvelope(site="other", message=vote("t1", "k1").message)),),
                    (b"\x00" * constants.MAX_FRAME_BYTES,),  # at the limit, not msgpack
                    (b"\x00" * (constants.MAX_FRAME_BYTES + 100),),  # just over the limit
                ]
                for frames in garbage:
                    await raw.send(*frames)
                await raw.send(schema.encode(good))
                # The good frame sent after the garbage arrives, and only it.
                assert await asyncio.wait_for(b.recv(), 10) == ("t1", good)
                counts = b.counters()
                assert counts["rx.dropped.schema.malformed"] == 3
                assert counts["rx.dropped.schema.oversized"] == 1
                assert counts["rx.dropped.schema.bad_version"] == 1
                assert counts["rx.dropped.bad_frames"] == 1
                assert counts["rx.dropped.misaddressed"] == 2
                assert counts["rx.dropped.wrong_site"] == 1
                assert counts["rx.accepted"] == 2
            finally:
                raw.close()

    run(scenario)


def test_a_frame_larger_than_the_limit_costs_the_sender_its_connection_only(
    free_port: Callable[[], int],
) -> None:
    cluster = Cluster(["t1", "k1"], free_port)
    b = cluster["k1"]
    good = status("t1")

    async def scenario() -> None:
        async with running(b):
            raw = RawPeer("t1", cluster.keys["t1"], b, cluster.ports["k1"])
            try:
                await raw.send(b"\x00" * (constants.MAX_FRAME_BYTES + 65536))
                assert await nothing_arrives(b, 0.3)
                assert "rx.dropped.schema.oversized" not in b.counters()  # never reached us
                # libzmq cut that connection; the DEALER dials again and is served.
                await raw.send(schema.encode(good))
                assert await asyncio.wait_for(b.recv(), 10) == ("t1", good)
            finally:
                raw.close()

    run(scenario)


def test_an_enrolled_key_cannot_speak_as_another_node(free_port: Callable[[], int]) -> None:
    cluster = Cluster(["t1", "t2", "k1"], free_port)
    b = cluster["k1"]

    async def scenario() -> None:
        async with running(b):
            # t2's key, t1's routing id and t1's name in the message.
            raw = RawPeer("t1", cluster.keys["t2"], b, cluster.ports["k1"])
            try:
                for _ in range(5):
                    await raw.send(schema.encode(status("t1")))
                assert await nothing_arrives(b, 0.5)
                assert b.counters()["rx.dropped.identity_mismatch"] == 5
            finally:
                raw.close()

    run(scenario)


# --- moving peers, sending edge cases, closing ----------------------------------------


def test_a_peer_that_moves_to_a_new_port_is_reached_after_set_peer(
    free_port: Callable[[], int],
) -> None:
    cluster = Cluster(["t1", "k1"], free_port)
    a, b = cluster["t1"], cluster["k1"]
    new_port = free_port()
    moved = Transport(
        node_id="k1",
        site=SITE,
        bind_addr=address(new_port),
        keypair=cluster.keys["k1"],
        allowed_keys={"t1": cluster.keys["t1"].public},
    )

    async def scenario() -> None:
        async with running(a):
            async with running(b):
                assert await deliver(a, "k1", status("t1", applied=1), b)
            async with running(moved):
                a.set_peer("k1", address(new_port), cluster.keys["k1"].public)
                assert a.peers()["k1"].address == address(new_port)
                assert await deliver(a, "k1", status("t1", applied=2), moved)
                # Setting the same address again keeps the live connection.
                a.set_peer("k1", address(new_port), cluster.keys["k1"].public)
                assert a.send("k1", status("t1", applied=3))
                assert await asyncio.wait_for(moved.recv(), 5) == ("t1", status("t1", applied=3))

    run(scenario)


def test_sending_edge_cases_are_counted_or_refused(free_port: Callable[[], int]) -> None:
    cluster = Cluster(["t1", "k1"], free_port)
    a = cluster["t1"]

    async def scenario() -> None:
        async with running(a):
            assert not a.send("nobody", status("t1"))
            assert a.counters()["tx.dropped.unknown_peer"] == 1
            # k1 is not running: nothing is queued for a peer we are not connected to.
            assert not a.send("k1", status("t1"))
            assert a.counters()["tx.dropped.not_connected"] == 1
            with pytest.raises(schema.SchemaError):
                too_big = {"x": "y" * constants.MAX_FRAME_BYTES}
                a.send("k1", ForwardRequest(req_id="r", origin="t1", command=too_big))
            a.remove_peer("k1")
            assert "k1" not in a.peers()
            assert not a.send("k1", status("t1"))

    with pytest.raises(schema.SchemaError):
        status("t1", applied=-1)
    run(scenario)


def test_close_is_idempotent_and_wakes_a_waiting_receiver() -> None:
    transport = Transport(
        node_id="t1", site=SITE, bind_addr="tcp://127.0.0.1:*", keypair=generate_keypair()
    )

    async def scenario() -> None:
        await transport.start()
        waiter = asyncio.create_task(transport.recv())
        await asyncio.sleep(0.05)
        await transport.close()
        with pytest.raises(TransportClosed):
            await asyncio.wait_for(waiter, 5)
        await transport.close()
        with pytest.raises(TransportClosed):
            await transport.recv()
        assert not transport.send("t2", status("t1"))

    run(scenario)


def test_a_bind_failure_leaves_nothing_open(free_port: Callable[[], int]) -> None:
    first = Transport(
        node_id="t1", site=SITE, bind_addr=address(free_port()), keypair=generate_keypair()
    )

    async def scenario() -> None:
        async with running(first):
            second = Transport(
                node_id="t2", site=SITE, bind_addr=first.bound_address, keypair=generate_keypair()
            )
            # Said in words a node can pass on (node.json's bind), not ZeroMQ's error.
            with pytest.raises(CannotListen, match="Address already in use"):
                await second.start()

    run(scenario)
