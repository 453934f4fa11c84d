"""Node-to-node messaging over ZeroMQ with CurveZMQ encryption and a ZAP allowlist.

Each node binds one CURVE ROUTER (it only receives) and dials one DEALER per peer
(it only sends; its routing id is our node id). Every connection is encrypted and
authenticated: our own ZAP handler, on the event loop, accepts a client only if
its public key is in the allowlist, and tags the connection with that key as its
ZAP User-Id. Every received frame is then checked again against the allowlist as
it stands now, so revoking a key stops its frames at once, even on a connection
that was accepted before.

Rules:
- ``send`` never blocks and never waits: a message that cannot be queued at once
  is dropped and counted (Raft retries).
- ``recv`` never raises for anything a peer did: bad frames are dropped, counted
  and logged (rate-limited), and the next good message is returned.
- A peer whose handshake we fail (our key is not yet enrolled there) is re-dialled
  after ``AUTH_RETRY_S``: libzmq itself gives up after an authentication failure.

This module must never block the event loop, start a thread, or open a socket
anywhere but on the addresses it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import zmq
import zmq.asyncio
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from mesh.net import constants, schema, zap
from mesh.net.counters import Counters
from mesh.net.keys import KeyPair, is_z85_key
from mesh.net.schema import SchemaError, WireMessage

logger = logging.getLogger("mesh.net.transport")

_CURVE_OVERHEAD_SLACK = 1024  # bytes; > CURVE's command name, nonce and MAC per message
_monitor_ids = itertools.count()
_YIELD_EVERY = 16  # messages taken from a full queue before recv() lets other tasks run


class CannotListen(Exception):
    """The address to listen on is taken, or is not one of this device's."""


class TransportClosed(Exception):
    """The transport was closed while (or before) the call was waiting."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerInfo:
    """Where a peer's ROUTER listens (``tcp://host:port``) and its Z85 public key."""

    address: str
    public_key: str

    def __post_init__(self) -> None:
        if not self.address.startswith("tcp://"):
            raise ValueError(f"peer address must be tcp://host:port, got {self.address!r}")
        if not is_z85_key(self.public_key):
            raise ValueError("peer public key must be a 40-character Z85 string")


@dataclass(slots=True, kw_only=True)
class _Link:
    """Our DEALER to one peer, its monitor, and the task watching the monitor."""

    peer_id: str
    info: PeerInfo
    socket: zmq.Socket[bytes]
    monitor: zmq.asyncio.Socket
    connected: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def _allowlist(allowed_keys: Mapping[str, str]) -> dict[str, str]:
    """Validate ``{node_id: public_key}`` and invert it to ``{public_key: node_id}``."""
    by_key: dict[str, str] = {}
    for node_id, key in allowed_keys.items():
        schema.check_id(node_id, "allowed node id")  # a SchemaError is a ValueError
        if not is_z85_key(key):
            raise ValueError(f"allowed key of {node_id!r} is not a Z85 CURVE key")
        if key in by_key:
            raise ValueError(f"{node_id!r} and {by_key[key]!r} share one public key")
        by_key[key] = node_id
    return by_key


class Transport:
    """One node's CURVE ROUTER plus a DEALER per peer. Use on one event loop only.

    ``allowed_keys`` maps node ids to the public keys allowed to connect to us;
    ``peers`` are the nodes we send to. A node is usually in both.
    """

    def __init__(
        self,
        *,
        node_id: str,
        site: str,
        bind_addr: str,
        keypair: KeyPair,
        peers: Mapping[str, PeerInfo] | None = None,
        allowed_keys: Mapping[str, str] | None = None,
        max_frame_bytes: int | None = None,
    ) -> None:
        schema.check_id(node_id, "node_id")
        schema.check_id(site, "site")
        if not bind_addr.startswith("tcp://"):
            raise ValueError(f"bind address must be tcp://host:port, got {bind_addr!r}")
        self.node_id = node_id
        self.site = site
        self._bind_addr = bind_addr
        self._keypair = keypair
        self._initial_peers = dict(peers or {})
        self._node_by_key = _allowlist(allowed_keys or {})
        self._max_frame_bytes = (
            constants.MAX_FRAME_BYTES if max_frame_bytes is None else max_frame_bytes
        )
        self._counters = Counters(logger)
        self._ctx: zmq.asyncio.Context | None = None
        self._router: zmq.asyncio.Socket | None = None
        self._router_now: zmq.Socket[bytes] | None = None  # see recv()
        self._taken_in_a_row = 0  # messages recv() took without waiting
        self._readable = asyncio.Event()  # set by the loop when the ROUTER's fd signals
        self._reader_fd: int | None = None
        self._reader_loop: asyncio.AbstractEventLoop | None = None
        self._zap: zmq.asyncio.Socket | None = None
        self._zap_task: asyncio.Task[None] | None = None
        self._links: dict[str, _Link] = {}
        self._closed = False
        self.bound_address = ""
        """The ROUTER's actual endpoint once started (resolves a ``*`` port)."""

    @property
    def public_key(self) -> str:
        """Our Z85 public key (peers use it as the CURVE server key to dial us)."""
        return self._keypair.public

    # --- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Bind the ROUTER (after the ZAP handler is up) and dial every known peer."""
        if self._ctx is not None or self._closed:
            raise RuntimeError("a Transport starts once")
        self._ctx = zmq.asyncio.Context()
        try:
            # The handler must be bound before the ROUTER accepts anyone: without
            # a ZAP handler libzmq would let any valid CURVE client in.
            self._zap = self._ctx.socket(zmq.REP)
            self._zap.linger = 0
            self._zap.bind(zap.ENDPOINT)
            self._zap_task = asyncio.create_task(
                zap.serve(self._zap, self._judge, logger), name="mesh.net.zap"
            )
            self._router = self._ctx.socket(zmq.ROUTER)
            self._configure_common(self._router)
            self._router.curve_server = True
            self._router.curve_secretkey = self._keypair.secret.encode("ascii")
            self._router.curve_publickey = self._keypair.public.encode("ascii")
            self._router.zap_domain = constants.ZAP_DOMAIN.encode("ascii")
            self._router.rcvhwm = constants.RECV_HWM
            # libzmq cuts a connection that sends a bigger message before we ever
            # allocate it. It measures the encrypted CURVE message, a few dozen
            # bytes longer than ours; the schema re-checks the exact limit.
            self._router.maxmsgsize = self._max_frame_bytes + _CURVE_OVERHEAD_SLACK
            # A restarted or moved peer reuses its routing id: let the new
            # connection take it over instead of being ignored.
            self._router.router_handover = 1
            try:
                self._router.bind(self._bind_addr)
            except zmq.ZMQError as exc:
                raise CannotListen(f"cannot listen on {self._bind_addr}: {exc.strerror}") from None
            endpoint = self._router.last_endpoint
            self.bound_address = endpoint.decode() if isinstance(endpoint, bytes) else ""
            for peer_id, info in self._initial_peers.items():
                self.set_peer(peer_id, info.address, info.public_key)
        except BaseException:
            await self.close()
            raise
        logger.info("transport %s listening on %s", self.node_id, self.bound_address)

    async def close(self) -> None:
        """Close every socket (linger 0), stop every task and terminate the context."""
        if self._closed:
            return
        self._closed = True
        tasks = [link.task for link in self._links.values() if link.task is not None]
        if self._zap_task is not None:
            tasks.append(self._zap_task)
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            # Even if close() itself is cancelled, no socket or context may leak.
            for link in list(self._links.values()):
                self._close_link(link)
            self._links.clear()
            if self._reader_fd is not None and self._reader_loop is not None:
                self._reader_loop.remove_reader(self._reader_fd)
                self._reader_fd = None
            self._readable.set()  # a recv() still waiting wakes and finds us closed
            for sock in (self._router, self._zap):
                if sock is not None:
                    sock.close(linger=0)
            if self._ctx is not None:
                self._ctx.term()
        logger.info("transport %s closed", self.node_id)

    @staticmethod
    def _configure_common(sock: zmq.Socket[Any]) -> None:
        sock.linger = constants.LINGER_MS
        sock.heartbeat_ivl = constants.HEARTBEAT_IVL_MS
        sock.heartbeat_timeout = constants.HEARTBEAT_TIMEOUT_MS
        sock.handshake_ivl = constants.HANDSHAKE_IVL_MS

    # --- allowlist ------------------------------------------------------------

    def set_allowed_keys(self, allowed_keys: Mapping[str, str]) -> None:
        """Replace the allowlist ``{node_id: public_key}``; effective at once.

        New handshakes are judged by the new list. A connection accepted earlier
        stays open at the TCP level (libzmq cannot close one peer of a ROUTER),
        but every frame it sends from now on is dropped as ``revoked``.
        """
        self._node_by_key = _allowlist(allowed_keys)

    def _judge(self, request: list[bytes]) -> list[bytes]:
        """Answer one ZAP request: 200 with the key as User-Id, or 400."""
        if len(request) < 6:
            return zap.reply(zap.request_id_of(request), b"500", b"malformed ZAP request")
        version, request_id, domain, address, _identity, mechanism, *credentials = request
        if version != zap.VERSION or mechanism != b"CURVE" or len(credentials) != 1:
            self._counters.drop("zap.refused.mechanism", f"from {address!r}")
            return zap.reply(request_id, b"400", b"CURVE required")
        public_key = z85.encode(credentials[0]).decode("ascii")
        node_id = self._node_by_key.get(public_key)
        if node_id is None or domain != constants.ZAP_DOMAIN.encode("ascii"):
            self._counters.drop("zap.refused.key", f"key {public_key} from {address!r}")
            return zap.reply(request_id, b"400", b"key not enrolled")
        self._counters.inc("zap.accepted")
        return zap.reply(request_id, b"200", b"OK", public_key.encode("ascii"))

    # --- peers ----------------------------------------------------------------

    def set_peer(self, peer_id: str, address: str, public_key: str) -> None:
        """Send to ``peer_id`` at ``address``; re-dial if its address or key changed."""
        schema.check_id(peer_id, "peer_id")
        info = PeerInfo(address=address, public_key=public_key)
        if self._ctx is None:
            if self._closed:
                raise TransportClosed("transport is closed")
            self._initial_peers[peer_id] = info  # dialled by start()
            return
        current = self._links.get(peer_id)
        if current is not None:
            if current.info == info:
                return
            self._close_link(current)
        self._links[peer_id] = self._open_link(peer_id, info)
        logger.info("transport %s dialling %s at %s", self.node_id, peer_id, address)

    def remove_peer(self, peer_id: str) -> None:
        """Stop sending to ``peer_id`` (queued messages are discarded)."""
        self._initial_peers.pop(peer_id, None)
        link = self._links.pop(peer_id, None)
        if link is not None:
            self._close_link(link)

    def peers(self) -> dict[str, PeerInfo]:
        if self._ctx is None:
            return dict(self._initial_peers)
        return {peer_id: link.info for peer_id, link in self._links.items()}

    def _open_link(self, peer_id: str, info: PeerInfo) -> _Link:
        assert self._ctx is not None
        # A plain (non-async) socket: we only ever send on it with NOBLOCK, which
        # completes or fails at once, so there is nothing to await.
        sock: zmq.Socket[bytes] = zmq.Socket(self._ctx, zmq.DEALER)
        self._configure_common(sock)
        sock.routing_id = self.node_id.encode("ascii")
        sock.sndhwm = constants.SEND_HWM
        # Queue only on a finished handshake: nothing piles up for a dead peer.
        sock.immediate = 1
        sock.reconnect_ivl = constants.RECONNECT_IVL_MS
        sock.reconnect_ivl_max = constants.RECONNECT_IVL_MAX_MS
        sock.curve_serverkey = info.public_key.encode("ascii")
        sock.curve_publickey = self._keypair.public.encode("ascii")
        sock.curve_secretkey = self._keypair.secret.encode("ascii")
        monitor_addr = f"inproc://mesh.net.monitor.{id(self)}.{next(_monitor_ids)}"
        sock.monitor(
            monitor_addr,
            zmq.EVENT_HANDSHAKE_SUCCEEDED
            | zmq.EVENT_HANDSHAKE_FAILED_AUTH
            | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
            | zmq.EVENT_DISCONNECTED,
        )
        monitor = self._ctx.socket(zmq.PAIR)
        monitor.linger = 0
        monitor.connect(monitor_addr)
        sock.connect(info.address)
        link = _Link(peer_id=peer_id, info=info, socket=sock, monitor=monitor)
        link.task = asyncio.create_task(self._watch(link), name=f"mesh.net.link.{peer_id}")
        return link

    def _close_link(self, link: _Link) -> None:
        if link.task is not None and link.task is not asyncio.current_task():
            link.task.cancel()
        with contextlib.suppress(zmq.ZMQError):
            link.socket.disable_monitor()
        link.monitor.close(linger=0)
        link.socket.close(linger=0)

    async def _watch(self, link: _Link) -> None:
        """Follow one link's handshakes; re-dial after a refused one."""
        while True:
            event = parse_monitor_message(await link.monitor.recv_multipart())
            kind = event["event"]
            if kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                link.connected = True
                self._counters.inc("link.connected")
                continue
            link.connected = False
            if kind == zmq.EVENT_DISCONNECTED:
                self._counters.inc("link.disconnected")
                continue
            # A failed handshake: libzmq does not retry it, so we dial afresh later.
            self._counters.drop(
                "link.handshake_failed", f"{link.peer_id} at {link.info.address} ({kind!r})"
            )
            await asyncio.sleep(constants.AUTH_RETRY_S)
            if self._links.get(link.peer_id) is link and not self._closed:
                self._links[link.peer_id] = self._open_link(link.peer_id, link.info)
                self._close_link(link)
            return

    # --- sending --------------------------------------------------------------

    def send(self, peer_id: str, message: WireMessage) -> bool:
        """Queue ``message`` for ``peer_id`` without blocking; True if queued.

        A message we cannot queue now (peer unknown or not connected, queue full,
        transport closed) is dropped and counted. An invalid or oversized message
        is our own bug and raises ``SchemaError``.
        """
        data = schema.encode(message, max_bytes=self._max_frame_bytes)
        link = self._links.get(peer_id)
        if self._closed:
            self._counters.inc("tx.dropped.closed")
            return False
        if link is None:
            self._counters.drop("tx.dropped.unknown_peer", peer_id, logging.INFO)
            return False
        try:
            link.socket.send(data, zmq.NOBLOCK)
        except zmq.Again:
            reason = "queue_full" if link.connected else "not_connected"
            self._counters.drop(f"tx.dropped.{reason}", peer_id, logging.INFO)
            return False
        except zmq.ZMQError as exc:
            self._counters.drop("tx.dropped.error", f"{peer_id}: {exc}", logging.INFO)
            return False
        self._counters.inc("tx.sent")
        return True

    # --- receiving ------------------------------------------------------------

    async def recv(self) -> tuple[str, WireMessage]:
        """The next valid message and the authenticated node id that sent it."""
        router = self._router
        if router is None or self._closed:
            raise TransportClosed("transport is not running")
        if self._router_now is None:
            # The same libzmq socket without the asyncio wrapper: taking a message
            # that is already queued costs a fraction of an awaited receive, and
            # under load most are. It is never closed itself (it owns nothing).
            self._router_now = zmq.Socket.shadow(router.underlying)
        sock = self._router_now
        while True:
            try:
                if self._reader_fd is not None:
                    # Look before taking: a receive on an empty queue raises zmq.Again,
                    # and building that exception cost more than the look (an idle
                    # node's heartbeats and gossip find the queue empty every time).
                    self._readable.clear()
                    if not int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                        self._taken_in_a_row = 0
                        await self._readable.wait()
                        continue
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    self._taken_in_a_row = 0
                    await self._wait_readable(sock)
                    continue
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._closed and task is not None and not task.cancelling():
                    raise TransportClosed("transport closed while receiving") from None
                raise
            except zmq.ZMQError as exc:
                if self._closed:
                    raise TransportClosed("transport closed while receiving") from None
                raise TransportClosed(f"receive failed: {exc}") from exc
            self._taken_in_a_row += 1
            if self._taken_in_a_row >= _YIELD_EVERY:
                # A queue that never empties must not starve the rest of the loop.
                self._taken_in_a_row = 0
                await asyncio.sleep(0)
            accepted = self._accept(frames)
            if accepted is not None:
                return accepted

    async def _wait_readable(self, sock: zmq.Socket[bytes]) -> None:
        """Wait until ``sock`` may have a message, watching its fd from the loop.

        Cheaper than pyzmq's awaited poll (a future, a poller and a timer per wait),
        which was a tenth of a busy node's CPU. libzmq's fd only says "look at
        ZMQ_EVENTS": it is checked after the flag is cleared, so a message that
        arrived in between is never slept on.
        """
        if self._reader_fd is None:
            self._reader_loop = asyncio.get_running_loop()
            self._reader_fd = int(sock.getsockopt(zmq.FD))
            self._reader_loop.add_reader(self._reader_fd, self._readable.set)
        self._readable.clear()
        if int(sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            return
        await self._readable.wait()

    def _accept(self, frames: list[zmq.Frame]) -> tuple[str, WireMessage] | None:
        """Check one received multipart; the sender and message, or None if dropped."""
        if len(frames) != 2:
            self._counters.drop("rx.dropped.bad_frames", f"{len(frames)} frames")
            return None
        routing, payload = frames
        try:
            user_id = payload.get("User-Id")
        except zmq.ZMQError:
            user_id = None
        node_id = self._node_by_key.get(user_id) if isinstance(user_id, str) else None
        if node_id is None:
            # Enrolled at handshake time, not any more: revocation bites at once.
            self._counters.drop("rx.dropped.revoked", f"key {user_id}")
            return None
        if routing.bytes != node_id.encode("ascii"):
            self._counters.drop(
                "rx.dropped.identity_mismatch", f"key of {node_id} claimed {routing.bytes!r}"
            )
            return None
        try:
            message = schema.decode(payload.buffer, max_bytes=self._max_frame_bytes)
        except SchemaError as exc:
            self._counters.drop(f"rx.dropped.schema.{exc.reason}", f"from {node_id}: {exc}")
            return None
        problem = self._misaddressed(node_id, message)
        if problem:
            self._counters.drop(f"rx.dropped.{problem}", f"from {node_id}")
            return None
        self._counters.inc("rx.accepted")
        return node_id, message

    def _misaddressed(self, node_id: str, message: WireMessage) -> str:
        """Why a well-formed message cannot be from ``node_id`` to us; "" if it can."""
        if isinstance(message, schema.RaftEnvelope):
            if message.site != self.site:
                return "wrong_site"
            if message.message.frm != node_id or message.message.to != self.node_id:
                return "misaddressed"
        elif isinstance(message, schema.NodeStatus):
            if message.node != node_id:
                return "misaddressed"
        elif isinstance(message, schema.ForwardRequest) and message.origin != node_id:
            return "misaddressed"
        return ""

    # --- observing ------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """A copy of every counter (``tx.*``, ``rx.*``, ``zap.*``, ``link.*``)."""
        return self._counters.snapshot()

    def connected_peers(self) -> set[str]:
        """Peers whose DEALER has completed a CURVE handshake and not lost it since."""
        return {peer_id for peer_id, link in self._links.items() if link.connected}
