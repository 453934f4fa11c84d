"""Join a site with a manager's one-time code: the apps' first-run screen calls this.

A thin, blocking wrapper over ``mesh.node.join`` (the apps import only
``mesh.client``). It looks for the site by mDNS, proves the code at the leader's
guest door and writes the device's data directory; after it returns, start the
node as usual (``EmbeddedNode``). It takes seconds: never call it on a UI thread.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import ifaddr

from mesh.node import config as cfg
from mesh.node import join as _join

ROLES = cfg.ROLES


class JoinRefused(Exception):
    """The device did not join. ``code`` names why (``wrong_code``, ``used_code``,
    ``expired_code``, ``exists``, ``rate_limited``, ``no_site``, ``several_sites``,
    ``no_answer``, ``malformed_code``, ``invalid``, ``address_in_use``,
    ``bad_address``, ...); the message says it in words. With ``several_sites``,
    ``sites`` lists them; with ``rate_limited``, ``retry_in_s`` says how long to wait."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        sites: tuple[str, ...] = (),
        retry_in_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.sites = sites
        self.retry_in_s = retry_in_s


@dataclass(frozen=True, slots=True)
class JoinedSite:
    site: str
    node: str
    prefix: str  # the device's temporary check ID prefix


def local_addresses() -> list[str]:
    """This device's IPv4 addresses, LAN ones first (to offer as its address in the site).

    Read from the interfaces (``ifaddr``, which zeroconf uses too); no socket is opened.
    """
    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and ip.ip not in found:
                found.append(ip.ip)
    return sorted(found, key=lambda a: (a.startswith("127."), a.startswith("169.254."), a))


def has_identity(data_dir: Path) -> bool:
    """Whether this data directory already holds an enrolled device (else: first run)."""
    return (data_dir / cfg.CONFIG_FILE).exists()


def join_site(
    data_dir: Path,
    code: str,
    *,
    name: str,
    role: str,
    bind: str,
    station: str | None = None,
    site: str | None = None,
    interfaces: list[str] | None = None,
) -> JoinedSite:
    """Enrol this device with ``code``; raises ``JoinRefused`` with the reason."""
    try:
        joined = asyncio.run(
            _join.join_site(
                data_dir,
                code,
                name=name,
                role=role,
                bind=bind,
                station=station,
                site=site,
                interfaces=interfaces,
            )
        )
    except _join.JoinError as exc:
        retry = exc.extra.get("retry_in_s")
        raise JoinRefused(
            exc.code,
            str(exc),
            sites=tuple(str(s) for s in exc.extra.get("sites", ())),
            retry_in_s=float(retry) if isinstance(retry, int | float) else None,
        ) from None
    return JoinedSite(site=joined.site, node=joined.node, prefix=joined.prefix)
