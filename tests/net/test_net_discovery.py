"""mDNS discovery on 127.0.0.1: nodes of a site find each other, other sites are ignored.

zeroconf binds to 127.0.0.1 only, so the adverts never leave this machine. Every
wait is bounded (``FIND_TIMEOUT``); registration alone takes about a second
because zeroconf probes for a name conflict first.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from mesh.net import constants
from mesh.net.discovery import (
    Discovery,
    DiscoveryEvent,
    NameTaken,
    PeerGone,
    PeerSeen,
    instance_name,
)
from mesh.net.keys import fingerprint, generate_keypair
from tests.net.net_helpers import eventually, no_fd_leaks, unique_site

pytestmark = pytest.mark.usefixtures("no_fd_leaks")
__all__ = ["no_fd_leaks"]  # a fixture imported for use by pytestmark

LOOPBACK = ["127.0.0.1"]
FIND_TIMEOUT = 10.0  # s; how long a node may take to appear or disappear
TEST_TIMEOUT = 60.0  # s; hard cap on each test's event loop


def run(test: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(test(), TEST_TIMEOUT)

    asyncio.run(bounded())


class Node:
    """One advertiser plus the events it reported."""

    def __init__(self, site: str, node_id: str, port: int, *, include_self: bool = False) -> None:
        self.public_key = generate_keypair().public
        self.port = port
        self.events: list[DiscoveryEvent] = []
        self.discovery = Discovery(
            site=site,
            node_id=node_id,
            role="terminal",
            public_key=self.public_key,
            port=port,
            addresses=LOOPBACK,
            interfaces=LOOPBACK,
            on_event=self.events.append,
            include_self=include_self,
        )

    async def sees(self, node_id: str) -> PeerSeen | None:
        return self.discovery.peers().get(node_id)


@contextlib.asynccontextmanager
async def advertising(*nodes: Node) -> AsyncIterator[None]:
    try:
        await asyncio.gather(*(node.discovery.start() for node in nodes))
        yield
    finally:
        for node in nodes:
            await node.discovery.close()


def test_two_nodes_of_a_site_find_each_other_and_ignore_another_site(
    free_port: Callable[[], int],
) -> None:
    site = unique_site("bistro")
    a = Node(site, "t1", free_port())
    b = Node(site, "k1", free_port())
    other = Node(unique_site("cafe"), "t1", free_port())  # same node id, another site

    async def scenario() -> None:
        async with advertising(a, b, other):
            seen_by_a = await eventually(lambda: a.sees("k1"), timeout=FIND_TIMEOUT)
            seen_by_b = await eventually(lambda: b.sees("t1"), timeout=FIND_TIMEOUT)
            assert seen_by_a == PeerSeen(
                node_id="k1",
                address="127.0.0.1",
                port=b.port,
                public_key=b.public_key,
                role="terminal",
            )
            assert seen_by_a.endpoint == f"tcp://127.0.0.1:{b.port}"
            assert seen_by_b.public_key == a.public_key  # not the other site's t1
            # The other site heard us and we heard it, but nobody reports a stranger.
            await eventually(
                lambda: _nonzero(a.discovery.counters().get("mdns.other_site", 0)),
                timeout=FIND_TIMEOUT,
            )
            assert a.discovery.peers().keys() == {"k1"}
            assert b.discovery.peers().keys() == {"t1"}
            assert other.discovery.peers() == {}
            assert other.events == []
            assert a.events == [seen_by_a]  # itself is filtered out by node id

    run(scenario)


async def _nonzero(value: int) -> int | None:
    return value or None


def test_a_closed_node_is_reported_gone_and_a_role_change_is_seen(
    free_port: Callable[[], int],
) -> None:
    site = unique_site("bistro")
    a = Node(site, "t1", free_port())
    b = Node(site, "k1", free_port())
    c = Node(site, "h1", free_port())

    async def scenario() -> None:
        async with advertising(a, b, c):
            await eventually(lambda: a.sees("k1"), timeout=FIND_TIMEOUT)
            await eventually(lambda: a.sees("h1"), timeout=FIND_TIMEOUT)

            await c.discovery.update_role("hub")

            async def hub_seen() -> PeerSeen | None:
                seen = a.discovery.peers().get("h1")
                return seen if seen is not None and seen.role == "hub" else None

            await eventually(hub_seen, timeout=FIND_TIMEOUT)

            await b.discovery.close()  # sends goodbye packets

            async def gone() -> bool | None:
                return True if PeerGone(node_id="k1") in a.events else None

            await eventually(gone, timeout=FIND_TIMEOUT)
            assert "k1" not in a.discovery.peers()
            assert "h1" in a.discovery.peers()

    run(scenario)


def test_a_node_can_see_itself_for_a_loopback_self_test(free_port: Callable[[], int]) -> None:
    node = Node(unique_site("bistro"), "t1", free_port(), include_self=True)

    async def scenario() -> None:
        async with advertising(node):
            seen = await eventually(lambda: node.sees("t1"), timeout=FIND_TIMEOUT)
            assert seen.public_key == node.public_key

    run(scenario)


def test_a_failing_callback_does_not_stop_discovery(free_port: Callable[[], int]) -> None:
    calls: list[DiscoveryEvent] = []

    def broken(event: DiscoveryEvent) -> None:
        calls.append(event)
        raise RuntimeError("callback bug")

    site = unique_site("bistro")
    a = Node(site, "t1", free_port())
    a.discovery = Discovery(
        site=site,
        node_id="t1",
        role="terminal",
        public_key=a.public_key,
        port=a.port,
        addresses=LOOPBACK,
        on_event=broken,
    )
    b = Node(site, "k1", free_port())
    c = Node(site, "k2", free_port())

    async def scenario() -> None:
        async with advertising(a, b, c):
            await eventually(lambda: a.sees("k1"), timeout=FIND_TIMEOUT)
            await eventually(lambda: a.sees("k2"), timeout=FIND_TIMEOUT)
            assert {event.node_id for event in calls} == {"k1", "k2"}

    run(scenario)


def test_advert_names_and_txt_values_fit_dns_sd() -> None:
    longest = "x" * constants.MAX_ID_CHARS
    label = instance_name(longest, longest).removesuffix("." + constants.MDNS_SERVICE_TYPE)
    assert len(label.encode()) <= 63
    key = generate_keypair().public
    assert len(f"pk={key}".encode()) < 255 and len(fingerprint(key)) == 16


def test_bad_arguments_are_refused() -> None:
    key = generate_keypair().public

    def make(**changes: object) -> Discovery:
        kwargs: dict[str, object] = {
            "site": "bistro",
            "node_id": "t1",
            "role": "terminal",
            "public_key": key,
            "port": 5000,
            "addresses": LOOPBACK,
            "on_event": lambda event: None,
        }
        kwargs.update(changes)
        return Discovery(**kwargs)  # type: ignore[arg-type]

    make()
    with pytest.raises(ValueError):
        make(public_key="nope")
    with pytest.raises(ValueError):
        make(addresses=[])
    with pytest.raises(ValueError, match="id"):
        make(site="bad site")


def test_a_second_device_with_a_node_id_of_the_site_is_refused_by_name(
    free_port: Callable[[], int],
) -> None:
    # A copy of a device's data directory started on another device: same site, same
    # node id, another port. It must say so, not run unseen beside the original.
    site = unique_site("bistro")
    original = Node(site, "t1", free_port())
    copy = Node(site, "t1", free_port())

    async def scenario() -> None:
        async with advertising(original):
            with pytest.raises(NameTaken, match=f"already runs as t1 of site {site}"):
                await copy.discovery.start()
            await copy.discovery.close()

    run(scenario)
