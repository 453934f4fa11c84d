"""Find the other nodes of our site on the LAN with mDNS / DNS-SD (python-zeroconf).

A node advertises ``_tablemesh._tcp.local.`` as ``<node>@<site>`` with TXT keys
``site``, ``node``, ``role``, ``pk`` (Z85 public key), ``fp`` (its fingerprint),
``pv`` (protocol version) and ``gp`` (the port of its guest door, where devices
that are not enrolled yet ask to join; 0 if none), and browses for the same type.
``browse_sites`` lists every site's nodes, for a device joining one. Adverts of other
sites, of another protocol version, or with inconsistent TXT are ignored (and
counted); our own advert is ignored unless ``include_self`` (a loopback self-test).

mDNS is unauthenticated: anyone on the LAN can advertise anything. What is seen
here is a hint of where a node listens, never a reason to trust it. Trust comes
from the enrolled keys: a peer is only reached through CURVE with the key the node
enrolled, and only enrolled keys pass our ZAP allowlist.

Rules: runs on the caller's event loop (no thread of its own); the callback is
called on that loop and must not block; ``close()`` says goodbye and releases
every socket. This module must never open a socket except through zeroconf on
the interfaces it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from zeroconf import IPVersion, NonUniqueNameException, ServiceStateChange
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from mesh.net import constants, schema
from mesh.net.counters import Counters
from mesh.net.keys import fingerprint, is_z85_key
from mesh.net.schema import SchemaError

logger = logging.getLogger("mesh.net.discovery")


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerSeen:
    """A node of our site is advertised at ``address:port`` (new, or changed)."""

    node_id: str
    address: str
    port: int
    public_key: str
    role: str
    guest_port: int = 0  # its guest door (mesh.net.guest), 0 if it has none

    @property
    def endpoint(self) -> str:
        """The ZeroMQ endpoint of its ROUTER."""
        return f"tcp://{self.address}:{self.port}"

    @property
    def guest_endpoint(self) -> str:
        """The ZeroMQ endpoint of its guest door ("" if it has none)."""
        return f"tcp://{self.address}:{self.guest_port}" if self.guest_port else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerGone:
    """The node's advert was withdrawn (goodbye packet or expiry)."""

    node_id: str


DiscoveryEvent: TypeAlias = PeerSeen | PeerGone


def instance_name(site: str, node_id: str) -> str:
    """The DNS-SD instance of a node: ``<node>@<site>._tablemesh._tcp.local.``.

    ``@`` never appears in an id, so the name is unique per (site, node), and two
    ids of at most 31 characters fit the 63-byte label.
    """
    return f"{node_id}@{site}.{constants.MDNS_SERVICE_TYPE}"


def read_advert(info: AsyncServiceInfo) -> tuple[str, PeerSeen] | str:
    """The site and node a resolved advert describes, or why it is not a valid one.

    The reason is a counter suffix: ``other_version`` or ``bad_txt``.
    """
    props = info.decoded_properties
    if props.get("pv") != str(constants.PROTOCOL_VERSION):
        return "other_version"
    site, node_id, role = props.get("site"), props.get("node"), props.get("role")
    public_key = props.get("pk")
    try:
        schema.check_id(site, "site")
        schema.check_id(node_id, "node")
    except SchemaError:
        return "bad_txt"
    if not is_z85_key(public_key) or props.get("fp") != fingerprint(str(public_key)):
        return "bad_txt"
    if not isinstance(role, str) or not role:
        return "bad_txt"
    guest = props.get("gp") or "0"
    if not (guest.isascii() and guest.isdigit()) or not 0 <= int(guest) <= 65535:
        return "bad_txt"
    addresses = info.parsed_addresses(IPVersion.V4Only) or info.parsed_addresses()
    if not addresses or info.port is None:
        return "bad_txt"
    assert site is not None and node_id is not None and public_key is not None
    seen = PeerSeen(
        node_id=node_id,
        address=addresses[0],
        port=info.port,
        public_key=public_key,
        role=role,
        guest_port=int(guest),
    )
    return site, seen


class NameTaken(Exception):
    """Another device on the network already advertises this node of this site."""


class Discovery:
    """Advertise this node and report the other nodes of its site."""

    def __init__(
        self,
        *,
        site: str,
        node_id: str,
        role: str,
        public_key: str,
        port: int,
        addresses: Sequence[str],
        on_event: Callable[[DiscoveryEvent], None],
        interfaces: Sequence[str] | None = None,
        include_self: bool = False,
        guest_port: int = 0,
    ) -> None:
        """``addresses``: the IPs our ROUTER is reachable at (advertised as A records).
        ``interfaces``: the IPs mDNS binds to (default: the advertised addresses).
        ``guest_port``: where our guest door listens (0: we have none).
        """
        schema.check_id(site, "site")
        schema.check_id(node_id, "node_id")
        if not is_z85_key(public_key):
            raise ValueError("public key must be a 40-character Z85 string")
        if not addresses:
            raise ValueError("at least one address to advertise is needed")
        self.site = site
        self.node_id = node_id
        self._role = role
        self._public_key = public_key
        self._port = port
        self._guest_port = guest_port
        self._addresses = list(addresses)
        self._interfaces = list(interfaces) if interfaces is not None else list(addresses)
        self._on_event = on_event
        self._include_self = include_self
        self._counters = Counters(logger)
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._seen: dict[str, PeerSeen] = {}  # by instance name
        self._resolving: dict[str, asyncio.Task[None]] = {}
        self._closed = False

    def _service_info(self) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            constants.MDNS_SERVICE_TYPE,
            instance_name(self.site, self.node_id),
            port=self._port,
            properties={
                "site": self.site,
                "node": self.node_id,
                "role": self._role,
                "pk": self._public_key,
                "fp": fingerprint(self._public_key),
                "pv": str(constants.PROTOCOL_VERSION),
                "gp": str(self._guest_port),
            },
            server=f"tablemesh-{fingerprint(self._public_key)}.local.",
            parsed_addresses=self._addresses,
        )

    async def start(self) -> None:
        """Register our advert (probing for a name conflict first) and start browsing.

        Raises ``NameTaken`` if another device already advertises this node id for
        this site: two devices must never share an id.
        """
        if self._zc is not None or self._closed:
            raise RuntimeError("a Discovery starts once")
        self._zc = AsyncZeroconf(interfaces=self._interfaces, ip_version=IPVersion.V4Only)
        try:
            self._info = self._service_info()
            try:
                await self._zc.async_register_service(self._info)
            except NonUniqueNameException:
                raise NameTaken(
                    f"another device on this network already runs as {self.node_id} of "
                    f"site {self.site}"
                ) from None
            self._browser = AsyncServiceBrowser(
                self._zc.zeroconf, constants.MDNS_SERVICE_TYPE, handlers=[self._on_change]
            )
        except BaseException:
            await self.close()
            raise
        logger.info("advertising %s on %s (port %d)", self._info.name, self._interfaces, self._port)

    async def update_role(self, role: str) -> None:
        """Re-advertise with a new role (e.g. after becoming a voter)."""
        self._role = role
        if self._zc is not None and self._info is not None and not self._closed:
            self._info = self._service_info()
            await self._zc.async_update_service(self._info)

    async def close(self) -> None:
        """Stop browsing, send goodbyes, and close zeroconf's sockets."""
        if self._closed:
            return
        self._closed = True
        tasks = list(self._resolving.values())
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._browser is not None:
                await self._browser.async_cancel()
        finally:
            self._resolving.clear()
            if self._zc is not None:
                await self._zc.async_close()  # unregisters (goodbye) and closes sockets

    def peers(self) -> dict[str, PeerSeen]:
        """Every node currently advertised for our site, by node id."""
        return {seen.node_id: seen for seen in self._seen.values()}

    def counters(self) -> dict[str, int]:
        return self._counters.snapshot()

    # --- browsing ---------------------------------------------------------------

    def _on_change(self, **kwargs: Any) -> None:
        """zeroconf's browser handler (called on our loop): resolve, or report a goodbye."""
        name = kwargs.get("name")
        state_change = kwargs.get("state_change")
        if not isinstance(name, str) or self._closed:
            return
        if state_change is ServiceStateChange.Removed:
            previous = self._resolving.pop(name, None)
            if previous is not None:
                previous.cancel()
            gone = self._seen.pop(name, None)
            if gone is not None:
                self._emit(PeerGone(node_id=gone.node_id))
            return
        # Added or Updated: (re)resolve; a newer change supersedes a pending one.
        previous = self._resolving.pop(name, None)
        if previous is not None:
            previous.cancel()
        task = asyncio.get_running_loop().create_task(self._resolve(name))
        self._resolving[name] = task
        task.add_done_callback(lambda done: self._forget_task(name, done))

    def _forget_task(self, name: str, task: asyncio.Task[None]) -> None:
        if self._resolving.get(name) is task:
            del self._resolving[name]

    async def _resolve(self, name: str) -> None:
        assert self._zc is not None
        info = AsyncServiceInfo(constants.MDNS_SERVICE_TYPE, name)
        if not await info.async_request(self._zc.zeroconf, constants.MDNS_RESOLVE_TIMEOUT_MS):
            self._counters.drop("mdns.unresolved", name)
            return
        seen = self._parse(name, info)
        if seen is None or self._seen.get(name) == seen:
            return
        self._seen[name] = seen
        self._emit(seen)

    def _parse(self, name: str, info: AsyncServiceInfo) -> PeerSeen | None:
        """The peer an advert describes, or None if it is not one of ours to report."""
        read = read_advert(info)
        if isinstance(read, str):
            self._counters.drop(f"mdns.{read}", name)
            return None
        site, seen = read
        if site != self.site:
            self._counters.inc("mdns.other_site")
            return None
        if seen.node_id == self.node_id and not self._include_self:
            return None
        return seen

    def _emit(self, event: DiscoveryEvent) -> None:
        logger.info("discovery %s: %s", self.node_id, event)
        try:
            self._on_event(event)
        except Exception:
            # The callback's bug must not stop discovery; it is logged in full.
            logger.exception("discovery callback failed on %s", event)


async def browse_sites(
    *, interfaces: Sequence[str], seconds: float, settle_s: float = 1.5
) -> list[tuple[str, PeerSeen]]:
    """The nodes of every site advertised on the LAN: ``(site, node)`` pairs.

    For a device that is not part of a site yet (it joins with an enrolment code
    and does not know the site's name). Returns ``settle_s`` after the first
    valid advert, so that the others answer too, and at most after ``seconds``.
    Advertises nothing.
    """
    zc = AsyncZeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)
    found: dict[str, tuple[str, PeerSeen]] = {}
    tasks: dict[str, asyncio.Task[None]] = {}
    first = asyncio.Event()

    async def resolve(name: str) -> None:
        info = AsyncServiceInfo(constants.MDNS_SERVICE_TYPE, name)
        if not await info.async_request(zc.zeroconf, constants.MDNS_RESOLVE_TIMEOUT_MS):
            return
        read = read_advert(info)
        if isinstance(read, str):
            logger.info("ignored an advert while browsing (%s): %s", read, name)
            return
        found[name] = read
        first.set()

    def on_change(**kwargs: Any) -> None:
        name = kwargs.get("name")
        if not isinstance(name, str) or name in tasks:
            return
        if kwargs.get("state_change") is not ServiceStateChange.Removed:
            tasks[name] = asyncio.get_running_loop().create_task(resolve(name))

    browser = AsyncServiceBrowser(zc.zeroconf, constants.MDNS_SERVICE_TYPE, handlers=[on_change])
    deadline = asyncio.get_running_loop().time() + seconds
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), seconds)
        left = deadline - asyncio.get_running_loop().time()
        if left > 0:
            await asyncio.sleep(min(settle_s, left))
        return sorted(found.values(), key=lambda pair: (pair[0], pair[1].node_id))
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await browser.async_cancel()
        await zc.async_close()
