"""Test hosts in network namespaces joined by a bridge, so that mDNS and partitions are real.

Every namespace, veth pair and bridge is created here and removed in
``close()``, also when the test fails. Addresses live only inside these
namespaces (10.77.0.0/24); the bridge itself sits in a namespace of its own, so
the machine's own network is never touched. Names carry a random suffix so
parallel runs cannot collide.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

SUBNET_PREFIX = "10.77.0."
SUBNET_BITS = 24
IP_TIMEOUT = 10.0  # seconds for one `ip` command


class NetnsUnavailable(RuntimeError):
    """This machine does not let us create network namespaces (not root, no `ip`, ...)."""


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # the namespace's name
    address: str  # its IPv4 address on the bridge
    veth: str  # its interface name inside the namespace
    bridge_port: str  # the peer end, enslaved to the bridge


def _ip(*args: str) -> None:
    subprocess.run(
        ["ip", *args], check=True, capture_output=True, timeout=IP_TIMEOUT, stdin=subprocess.DEVNULL
    )


def netns_unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if shutil.which("ip") is None:
        return "the `ip` command (Debian package iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = "tmprobe" + secrets.token_hex(3)
    try:
        _ip("netns", "add", probe)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"`ip netns add` failed: {exc}"
    with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
        _ip("netns", "del", probe)
    return None


class NetnsLab:
    """N hosts on one bridge. Use as a context manager (or call ``close()``)."""

    def __init__(self, count: int) -> None:
        reason = netns_unavailable_reason()
        if reason is not None:
            raise NetnsUnavailable(reason)
        tag = secrets.token_hex(3)
        self.bridge_ns = f"tmbr{tag}"
        self.hosts: list[Host] = []
        self._namespaces: list[str] = []
        try:
            self._add_ns(self.bridge_ns)
            _ip("-n", self.bridge_ns, "link", "add", "br0", "type", "bridge")
            _ip("-n", self.bridge_ns, "link", "set", "br0", "up")
            for i in range(1, count + 1):
                self._add_host(f"tm{tag}h{i}", SUBNET_PREFIX + str(i), i)
        except BaseException:
            self.close()
            raise

    def _add_ns(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def _add_host(self, ns: str, address: str, i: int) -> None:
        self._add_ns(ns)
        port = f"p{i}"
        _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port,
            "netns", self.bridge_ns)  # fmt: skip
        _ip("-n", self.bridge_ns, "link", "set", port, "master", "br0")
        _ip("-n", self.bridge_ns, "link", "set", port, "up")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "addr", "add", f"{address}/{SUBNET_BITS}", "dev", "eth0")
        # mDNS needs a multicast route; without a default route there is none.
        _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        self.hosts.append(Host(name=ns, address=address, veth="eth0", bridge_port=port))

    def exec_args(self, host: Host, args: Sequence[str]) -> list[str]:
        """The argv that runs ``args`` inside ``host``'s namespace."""
        return ["ip", "netns", "exec", host.name, *args]

    def cut(self, host: Host) -> None:
        """Unplug ``host`` from the bridge (both directions)."""
        _ip("-n", self.bridge_ns, "link", "set", host.bridge_port, "down")

    def restore(self, host: Host) -> None:
        _ip("-n", self.bridge_ns, "link", "set", host.bridge_port, "up")

    def close(self) -> None:
        """Delete every namespace we made (their veths go with them). Never raises."""
        for name in reversed(self._namespaces):
            with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
                _ip("netns", "del", name)
        self._namespaces.clear()

    def __enter__(self) -> NetnsLab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def list_namespaces() -> set[str]:
    out = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=IP_TIMEOUT, check=False
    ).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}
