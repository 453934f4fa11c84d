"""The guest door: where a device that is not enrolled yet asks to join the site.

A node's own ROUTER admits only enrolled keys, and a new device's key is known to
nobody, so the device knocks here instead: a second CURVE ROUTER in its own
ZeroMQ context (so its own ZAP handler and ZAP domain). Why not let guests into
the node's ROUTER: that ROUTER runs with ``ROUTER_HANDOVER`` so a restarted peer
takes its routing id back, and an admitted guest claiming an enrolled node's id
would take over that node's connection.

At the door:
- any CURVE key is admitted, at most ``GUEST_HANDSHAKES_PER_S`` new connections
  a second; the connection's key (its ZAP User-Id) is handed to the handler, so
  a request cannot speak for another key;
- one request kind (``schema.GuestEnrol``) and nothing else; every frame is
  counted, a bad one dropped; at most ``GUEST_REQUESTS_PER_S`` requests are
  handled a second and ``GUEST_IN_FLIGHT`` at once, the rest answered ``busy``;
- the answer goes back on the same connection.

``ask`` is the other side: one request from a new device to one node's door.

This module must never open a socket except on the address it is given (the
server) or the endpoint it is asked to reach (``ask``), and never block the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import zmq
import zmq.asyncio
from zmq.utils import z85

from mesh.net import constants, schema, zap
from mesh.net.counters import Counters
from mesh.net.keys import KeyPair, is_z85_key
from mesh.net.schema import GuestAnswer, GuestEnrol, SchemaError

logger = logging.getLogger("mesh.net.guest")

_CURVE_OVERHEAD_SLACK = 1024  # bytes; > CURVE's command name, nonce and MAC per message

Handler = Callable[[GuestEnrol, str], Awaitable[GuestAnswer]]
"""Answers one request, given the request and the Z85 key that sent it."""


class GuestDoorError(Exception):
    """``ask`` got no valid answer (no door there, a refused handshake, a timeout)."""


def refusal(code: str, message: str, *, leader: str | None = None) -> GuestAnswer:
    return GuestAnswer(
        ok=False, result=None, error={"code": code, "message": message}, leader=leader
    )


class _Bucket:
    """A token bucket: ``take()`` is True at most ``rate`` times a second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class GuestDoor:
    """One node's guest door. Use on one event loop only."""

    def __init__(self, *, bind_addr: str, keypair: KeyPair, handler: Handler) -> None:
        if not bind_addr.startswith("tcp://"):
            raise ValueError(f"bind address must be tcp://host:port, got {bind_addr!r}")
        self._bind_addr = bind_addr
        self._keypair = keypair
        self._handler = handler
        self._counters = Counters(logger)
        self._handshakes = _Bucket(
            constants.GUEST_HANDSHAKES_PER_S, constants.GUEST_HANDSHAKE_BURST
        )
        self._requests = _Bucket(constants.GUEST_REQUESTS_PER_S, constants.GUEST_REQUEST_BURST)
        self._ctx: zmq.asyncio.Context | None = None
        self._router: zmq.asyncio.Socket | None = None
        self._zap: zmq.asyncio.Socket | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.bound_address = ""
        """The door's endpoint once started (resolves a ``*`` port)."""

    @property
    def port(self) -> int:
        return int(self.bound_address.rpartition(":")[2]) if self.bound_address else 0

    async def start(self) -> None:
        if self._ctx is not None or self._closed:
            raise RuntimeError("a GuestDoor starts once")
        self._ctx = zmq.asyncio.Context()
        try:
            # The ZAP handler first: without one libzmq admits every CURVE client
            # unchecked (and uncounted).
            self._zap = self._ctx.socket(zmq.REP)
            self._zap.linger = 0
            self._zap.bind(zap.ENDPOINT)
            self._spawn(zap.serve(self._zap, self._judge, logger), "mesh.net.guest.zap")
            router = self._ctx.socket(zmq.ROUTER)
            self._router = router
            router.linger = 0
            router.handshake_ivl = constants.HANDSHAKE_IVL_MS
            router.curve_server = True
            router.curve_secretkey = self._keypair.secret.encode("ascii")
            router.curve_publickey = self._keypair.public.encode("ascii")
            router.zap_domain = constants.GUEST_ZAP_DOMAIN.encode("ascii")
            router.rcvhwm = constants.GUEST_RECV_HWM
            router.maxmsgsize = constants.MAX_GUEST_FRAME_BYTES + _CURVE_OVERHEAD_SLACK
            router.bind(self._bind_addr)
            endpoint = router.last_endpoint
            self.bound_address = endpoint.decode() if isinstance(endpoint, bytes) else ""
            self._spawn(self._serve(), "mesh.net.guest.serve")
        except BaseException:
            await self.close()
            raise
        logger.info("guest door open on %s", self.bound_address)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for sock in (self._router, self._zap):
                if sock is not None:
                    sock.close(linger=0)
            if self._ctx is not None:
                self._ctx.term()

    def counters(self) -> dict[str, int]:
        """``guest.*`` counts: handshakes admitted and refused, requests, drops."""
        return self._counters.snapshot()

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- ZAP: any CURVE key, at a bounded rate -------------------------------------

    def _judge(self, request: list[bytes]) -> list[bytes]:
        if len(request) < 6:
            return zap.reply(zap.request_id_of(request), b"500", b"malformed ZAP request")
        version, request_id, domain, address, _identity, mechanism, *credentials = request
        if (
            version != zap.VERSION
            or mechanism != b"CURVE"
            or len(credentials) != 1
            or domain != constants.GUEST_ZAP_DOMAIN.encode("ascii")
        ):
            self._counters.drop("guest.zap.refused.mechanism", f"from {address!r}")
            return zap.reply(request_id, b"400", b"CURVE required")
        if not self._handshakes.take():
            self._counters.drop("guest.zap.refused.rate", f"from {address!r}")
            return zap.reply(request_id, b"400", b"too many guests")
        self._counters.inc("guest.zap.admitted")
        return zap.reply(request_id, b"200", b"OK", z85.encode(credentials[0]))

    # --- requests -----------------------------------------------------------------

    async def _serve(self) -> None:
        router = self._router
        assert router is not None
        in_flight: set[asyncio.Task[None]] = set()
        while True:
            frames = await router.recv_multipart(copy=False)
            if len(frames) != 2:
                self._counters.drop("guest.dropped.bad_frames", f"{len(frames)} frames")
                continue
            routing, payload = frames
            try:
                key = payload.get("User-Id")
            except zmq.ZMQError:
                key = None
            if not is_z85_key(key):
                self._counters.drop("guest.dropped.no_key", "frame without a CURVE User-Id")
                continue
            assert isinstance(key, str)
            try:
                message = schema.decode_guest(payload.buffer)
            except SchemaError as exc:
                self._counters.drop(f"guest.dropped.schema.{exc.reason}", f"key {key}: {exc}")
                continue
            if not isinstance(message, GuestEnrol):
                self._counters.drop("guest.dropped.kind", f"key {key}: {type(message).__name__}")
                continue
            self._counters.inc("guest.requests")
            reply_to = routing.bytes
            if len(in_flight) >= constants.GUEST_IN_FLIGHT or not self._requests.take():
                self._counters.inc("guest.busy")
                self._answer(reply_to, refusal("busy", "the site is busy: try again in a moment"))
                continue
            task = asyncio.create_task(self._handle(reply_to, message, key))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, reply_to: bytes, message: GuestEnrol, key: str) -> None:
        try:
            answer = await self._handler(message, key)
        except Exception:
            logger.exception("guest request handler failed")
            answer = refusal("internal", "the node could not handle the request: try again")
        self._answer(reply_to, answer)

    def _answer(self, reply_to: bytes, answer: GuestAnswer) -> None:
        if self._router is None or self._closed:
            return
        try:
            data = schema.encode(answer, max_bytes=constants.MAX_GUEST_FRAME_BYTES)
            self._router.send_multipart([reply_to, data], flags=zmq.NOBLOCK)
        except (SchemaError, zmq.ZMQError) as exc:
            # The guest has gone, or the answer is too big: it will ask again.
            self._counters.drop("guest.answer_failed", str(exc))


async def ask(
    endpoint: str,
    server_key: str,
    keypair: KeyPair,
    request: GuestEnrol,
    *,
    timeout: float = constants.GUEST_ANSWER_TIMEOUT_S,
) -> GuestAnswer:
    """Send one request to the guest door at ``endpoint`` and wait for its answer.

    Raises ``GuestDoorError`` if none comes within ``timeout`` (no door there, a
    handshake refused or a wrong server key look alike to a client: silence).
    """
    if not endpoint.startswith("tcp://") or not is_z85_key(server_key):
        raise ValueError("ask needs a tcp:// endpoint and the door's Z85 server key")
    data = schema.encode(request, max_bytes=constants.MAX_GUEST_FRAME_BYTES)
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.linger = 0
        sock.handshake_ivl = constants.HANDSHAKE_IVL_MS
        sock.maxmsgsize = constants.MAX_GUEST_FRAME_BYTES + _CURVE_OVERHEAD_SLACK
        sock.curve_serverkey = server_key.encode("ascii")
        sock.curve_publickey = keypair.public.encode("ascii")
        sock.curve_secretkey = keypair.secret.encode("ascii")
        sock.connect(endpoint)
        await sock.send(data)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not await sock.poll(int(left * 1000)):
                raise GuestDoorError(f"no answer from {endpoint} within {timeout:g} s")
            frame = await sock.recv()
            try:
                message = schema.decode_guest(frame)
            except SchemaError as exc:
                logger.warning("dropped a bad answer from %s: %s", endpoint, exc)
                continue
            if isinstance(message, GuestAnswer):
                return message
    finally:
        with contextlib.suppress(zmq.ZMQError):
            sock.close(linger=0)
        ctx.term()
