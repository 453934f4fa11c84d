"""The guest door (mesh.net.guest) on loopback: any key gets in, only one request kind, bounded.

Also the enrolment proof (mesh.node.enrolment.proof) that travels through it, and
the check ID prefix the roster keeps unique.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import zmq
import zmq.asyncio

from mesh.net import constants, schema
from mesh.net.guest import GuestDoor, GuestDoorError, ask, refusal
from mesh.net.keys import KeyPair
from mesh.net.schema import GuestAnswer, GuestEnrol, SchemaError
from mesh.node import enrolment
from mesh.node.roster import Roster
from tests.net.net_helpers import eventually, no_fd_leaks

pytestmark = pytest.mark.usefixtures("no_fd_leaks")
__all__ = ["no_fd_leaks"]


def _keypair() -> KeyPair:
    public, secret = zmq.curve_keypair()
    return KeyPair(public=public.decode(), secret=secret.decode())


def _request(proof: str = "ab" * 32, node: str = "t9") -> GuestEnrol:
    return GuestEnrol(site="bistro", node=node, role="terminal", address="", proof=proof)


def _run(scenario: Callable[[], object]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 30)  # type: ignore[arg-type]

    asyncio.run(bounded())


def test_a_guest_is_answered_and_the_handler_sees_the_key_it_connected_with() -> None:
    server, guest = _keypair(), _keypair()
    seen: list[tuple[GuestEnrol, str]] = []

    async def handler(request: GuestEnrol, key: str) -> GuestAnswer:
        seen.append((request, key))
        return GuestAnswer(ok=True, result={"site": request.site, "you": key}, error=None)

    async def scenario() -> None:
        door = GuestDoor(bind_addr="tcp://127.0.0.1:*", keypair=server, handler=handler)
        await door.start()
        try:
            answer = await ask(door.bound_address, server.public, guest, _request(), timeout=10)
            assert answer.ok and answer.result == {"site": "bistro", "you": guest.public}
            assert seen == [(_request(), guest.public)]
            assert door.counters()["guest.zap.admitted"] == 1
            assert door.counters()["guest.requests"] == 1
        finally:
            await door.close()

    _run(scenario)


def test_bad_frames_and_node_messages_are_dropped_and_the_door_keeps_serving() -> None:
    server, guest = _keypair(), _keypair()

    async def handler(request: GuestEnrol, key: str) -> GuestAnswer:
        return refusal("wrong_code", "this enrolment code is not valid")

    async def scenario() -> None:
        door = GuestDoor(bind_addr="tcp://127.0.0.1:*", keypair=server, handler=handler)
        await door.start()
        ctx = zmq.asyncio.Context()
        sock = ctx.socket(zmq.DEALER)
        try:
            sock.linger = 0
            sock.curve_serverkey = server.public.encode()
            sock.curve_publickey = guest.public.encode()
            sock.curve_secretkey = guest.secret.encode()
            sock.connect(door.bound_address)
            await sock.send(b"\xc1 not msgpack")
            await sock.send_multipart([b"two", b"frames"])
            status = schema.NodeStatus(
                node="n1", role="leader", term=1, applied=0, leader=None, dot="green", extra={}
            )
            await sock.send(schema.encode(status))  # a node's message: not at this door

            async def dropped() -> dict[str, int] | None:
                c = door.counters()
                keys = ("malformed", "unknown_kind")
                done = all(c.get(f"guest.dropped.schema.{k}", 0) == 1 for k in keys)
                return c if done and c.get("guest.dropped.bad_frames", 0) == 1 else None

            await eventually(dropped)
            answer = await ask(door.bound_address, server.public, guest, _request(), timeout=10)
            assert not answer.ok and answer.error == {
                "code": "wrong_code",
                "message": "this enrolment code is not valid",
            }
        finally:
            sock.close(linger=0)
            ctx.term()
            await door.close()

    _run(scenario)


def test_a_burst_of_requests_beyond_the_rate_is_answered_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(constants, "GUEST_REQUEST_BURST", 2)
    monkeypatch.setattr(constants, "GUEST_REQUESTS_PER_S", 0.01)
    server = _keypair()

    async def handler(request: GuestEnrol, key: str) -> GuestAnswer:
        return refusal("wrong_code", "no")

    async def scenario() -> None:
        door = GuestDoor(bind_addr="tcp://127.0.0.1:*", keypair=server, handler=handler)
        await door.start()
        try:
            codes = []
            for _ in range(4):
                answer = await ask(door.bound_address, server.public, _keypair(), _request())
                assert answer.error is not None
                codes.append(answer.error["code"])
            assert codes == ["wrong_code", "wrong_code", "busy", "busy"]
            assert door.counters()["guest.busy"] == 2
        finally:
            await door.close()

    _run(scenario)


def test_asking_where_no_door_listens_or_with_a_wrong_server_key_times_out(
    free_port: Callable[[], int],
) -> None:
    server = _keypair()

    async def handler(request: GuestEnrol, key: str) -> GuestAnswer:
        raise AssertionError("never reached")

    async def scenario() -> None:
        with pytest.raises(GuestDoorError):
            await ask(f"tcp://127.0.0.1:{free_port()}", server.public, _keypair(), _request(),
                      timeout=0.5)  # fmt: skip
        door = GuestDoor(bind_addr="tcp://127.0.0.1:*", keypair=server, handler=handler)
        await door.start()
        try:
            # Someone pretending to be this node (another key) cannot be reached as it.
            with pytest.raises(GuestDoorError):
                await ask(door.bound_address, _keypair().public, _keypair(), _request(),
                          timeout=0.5)  # fmt: skip
        finally:
            await door.close()

    _run(scenario)


def test_guest_messages_are_refused_between_nodes_and_checked_on_both_ends() -> None:
    frame = schema.encode(_request())
    with pytest.raises(SchemaError) as refused:
        schema.decode(frame)  # a node's ROUTER never takes a guest's request
    assert refused.value.reason == "unknown_kind"
    assert schema.decode_guest(frame) == _request()
    with pytest.raises(SchemaError):
        _request(proof="not hex")
    with pytest.raises(SchemaError):
        GuestEnrol(site="bistro", node="t9", role="terminal", address="udp://x", proof="ab" * 32)
    with pytest.raises(SchemaError):
        GuestAnswer(ok=False, result=None, error={"code": "Bad Code", "message": "x"})


def test_a_proof_is_bound_to_the_code_both_keys_and_the_request() -> None:
    digest = enrolment.code_hash("bistro", "7KQ2M9XD")
    binding = {"device_key": "D" * 40, "server_key": "S" * 40, "node": "t9", "role": "terminal",
               "address": ""}  # fmt: skip
    sent = enrolment.proof(digest, **binding)
    other = enrolment.code_hash("bistro", "7KQ2M9XE")
    assert enrolment.offer_for_proof([other, digest], sent, **binding) == digest
    for name, value in [("device_key", "E" * 40), ("server_key", "T" * 40), ("node", "t8"),
                        ("role", "kds"), ("address", "tcp://10.0.0.9:7400")]:  # fmt: skip
        assert enrolment.offer_for_proof([digest], sent, **{**binding, name: value}) is None
    assert enrolment.offer_for_proof([other], sent, **binding) is None


def test_the_roster_never_gives_one_prefix_twice_even_after_a_re_enrolment() -> None:
    roster = Roster()
    for code in ("c1", "c2", "c3"):
        roster.apply({"op": "offer", "code": code, "expires_ms": 10})
    enrol = {"op": "enrol", "node": "t9", "key": "K" * 40, "role": "terminal", "address": "",
             "at_ms": 1}  # fmt: skip
    assert roster.apply({**enrol, "code": "c1", "prefix": "B1"})
    assert not roster.apply({**enrol, "code": "c2", "node": "t8", "key": "L" * 40, "prefix": "B1"})
    roster.apply({"op": "revoke", "node": "t9", "key": "K" * 40})
    assert roster.apply({**enrol, "code": "c2", "key": "M" * 40, "prefix": "B2"})
    assert roster.prefixes() == {"B1", "B2"}  # B1 is on old checks: retired, never reused
    assert not roster.apply({**enrol, "code": "c3", "node": "t7", "key": "N" * 40, "prefix": "B1"})
    assert Roster.from_json(roster.to_json()) == roster
