"""A new device joins a site with a manager's one-time code, over the LAN.

``join_site`` is what ``tablemesh node --enrol CODE`` and the apps' first-run
screen do: make this device's CURVE key, find the site's nodes by mDNS (their
guest doors are in the adverts), send the leader an enrolment request with a
proof of the code (never the code: ``mesh.node.enrolment.proof``), and on
success write the device's data directory from the answer (the site, its check
ID prefix, every enrolled device). The node then starts as a learner with an
empty log and the leader fills it (docs/membership.md).

A follower asked first answers with the leader's id; the device asks the
leader's door next. A refusal (wrong, used or expired code, a name already
enrolled, too many tries) ends the join at once with the site's message.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.net.addresses import bind_problem
from mesh.net.discovery import PeerSeen, browse_sites
from mesh.net.guest import GuestDoorError, ask
from mesh.net.keys import load_or_create_keypair
from mesh.net.schema import GuestEnrol, SchemaError, check_id
from mesh.node import config as cfg
from mesh.node import enrolment
from mesh.node.site_setup import prepare_joining_device

log = logging.getLogger(__name__)

BROWSE_S = 8.0  # s to look for the site's adverts (mDNS answers within about a second)
ASK_TIMEOUT_S = 20.0  # s to wait for one door's answer (the leader commits the key first)
MAX_ASKS = 8  # doors asked before giving up (redirects from followers included)


class JoinError(Exception):
    """The device could not join. ``code`` is a short label, the message says why in words.

    Raised as is for what this device found on its own (its data directory is set
    up already, no site or several sites answer, no door answered); the site's own
    refusals are ``SiteRefused``.
    """

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.extra = extra


class SiteRefused(JoinError):
    """The site's leader said no (a wrong, used or expired code, a name taken...): its words."""


class BindError(JoinError):
    """The address this device gave cannot be its own: found here, before anything is sent."""


class StationError(JoinError):
    """The kitchen station given cannot be this device's: found here, before anything is sent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Joined:
    site: str
    node: str
    prefix: str
    peers: dict[str, cfg.PeerConfig] = field(default_factory=dict)
    asked: str = ""  # the node whose door answered


def _pick_site(found: list[tuple[str, PeerSeen]], site: str | None) -> str:
    sites = sorted({name for name, seen in found if seen.guest_port})
    if site is not None:
        if site not in sites:
            seen_names = ", ".join(sites) or "none"
            raise JoinError("no_site", f"site {site!r} is not on this network (seen: {seen_names})")
        return site
    if not sites:
        raise JoinError(
            "no_site",
            "no site was found on this network: is this device on the restaurant's network, "
            "and is a device of the site running?",
        )
    if len(sites) > 1:
        raise JoinError(
            "several_sites",
            f"several sites answer here ({', '.join(sites)}): name the site",
            sites=sites,
        )
    return sites[0]


def check_bind(bind: str) -> str:
    """The host of ``bind`` if this device can listen there; raises ``BindError``.

    Checked before the code is spent (first of all, since it needs no site): once
    enrolled, every device dials this address, so a device that cannot listen
    there would be known but unreachable.
    """
    if not bind.startswith("tcp://") or "*" in bind or bind.startswith("tcp://0.0.0.0"):
        raise BindError("invalid", "bind must be tcp://ADDRESS:PORT with this device's LAN address")
    host, _, port = bind.removeprefix("tcp://").rpartition(":")
    if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise BindError("invalid", "bind must end with a port number (1-65535)")
    try:
        # A name (localhost, a host name) cannot be advertised by mDNS nor dialled
        # the same way from every device: the site's roster holds addresses.
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise BindError(
            "invalid", f"bind must name this device's IP address, not {host!r}"
        ) from None
    problem = bind_problem(host, int(port))
    if problem == "in_use":
        raise BindError("address_in_use", f"port {port} is already in use on this device")
    if problem is not None:
        raise BindError("bad_address", f"this device cannot listen on {host}:{port} ({problem})")
    return host


def check_station(role: str, station: str | None) -> None:
    """Raises ``StationError`` unless ``station`` is one a kitchen screen can serve.

    Checked before the key is made or the code spent: the station is written into
    the device's configuration, and a kitchen screen reading one it does not know
    falls back to expo without a word (``kitchen.settings.node_station``).
    """
    if station is None:
        return
    if role != "kds":
        raise StationError(
            "invalid", f"a station is for a kitchen screen (--role kds), not a {role}"
        )
    if station not in cfg.KDS_STATIONS:
        raise StationError("invalid", f"a station is one of {', '.join(cfg.KDS_STATIONS)}")


async def join_site(
    data_dir: Path,
    code: str,
    *,
    name: str,
    role: str,
    bind: str,
    station: str | None = None,
    site: str | None = None,
    interfaces: list[str] | None = None,
    browse_s: float = BROWSE_S,
) -> Joined:
    """Enrol this device with ``code`` and write its data directory; raises ``JoinError``."""
    if (data_dir / cfg.CONFIG_FILE).exists():
        raise JoinError("exists", f"{data_dir} already holds an enrolled device")
    host = check_bind(bind)
    canonical = enrolment.normalize(code)
    if canonical is None:
        raise JoinError("malformed_code", "a code is 8 letters and digits, like 7KQ2-M9XD")
    try:
        check_id(name, "name")
    except SchemaError:
        raise JoinError("invalid", f"{name!r} is not a valid device name") from None
    if role not in cfg.ROLES:
        raise JoinError("invalid", f"role must be one of {', '.join(cfg.ROLES)}")
    check_station(role, station)
    keys = load_or_create_keypair(data_dir / cfg.KEYS_DIR)
    found = await browse_sites(interfaces=interfaces or [host], seconds=browse_s)
    chosen = _pick_site(found, site)
    doors = {seen.node_id: seen for s, seen in found if s == chosen and seen.guest_port}
    # Hubs first: they are the likeliest leaders and always on.
    rank = {role: i for i, role in enumerate(cfg.ROLES)}
    order = sorted(doors, key=lambda n: (rank.get(doors[n].role, len(rank)), n))
    digest = enrolment.code_hash(chosen, canonical)
    last_error = "no node of the site answered"
    asked: set[str] = set()
    target: str | None = order[0] if order else None
    for _ in range(MAX_ASKS):
        if target is None:
            break
        asked.add(target)
        door = doors[target]
        request = GuestEnrol(
            site=chosen,
            node=name,
            role=role,
            address=bind,
            proof=enrolment.proof(
                digest,
                device_key=keys.public,
                server_key=door.public_key,
                node=name,
                role=role,
                address=bind,
            ),
        )
        try:
            answer = await ask(
                door.guest_endpoint, door.public_key, keys, request, timeout=ASK_TIMEOUT_S
            )
        except GuestDoorError as exc:
            log.warning("no answer from a door", extra={"peer": target, "error": str(exc)})
            last_error = str(exc)
            target = next((n for n in order if n not in asked), None)
            continue
        if answer.ok:
            return _write(data_dir, answer.result or {}, name=name, role=role, bind=bind,
                          station=station, asked=target)  # fmt: skip
        error = answer.error or {}
        err_code = str(error.get("code", "refused"))
        if err_code == "not_leader":
            hint = answer.leader
            target = hint if hint in doors and hint != target else None
            if target is None:
                target = next((n for n in order if n not in asked), None)
            last_error = "the site has no leader right now (an election): try again"
            continue
        if err_code == "busy":
            last_error = str(error.get("message", "busy"))
            target = next((n for n in order if n not in asked), target)
            continue
        extra = {k: v for k, v in error.items() if k not in {"code", "message"}}
        raise SiteRefused(err_code, str(error.get("message", err_code)), **extra)
    raise JoinError("no_answer", last_error)


def _write(
    data_dir: Path,
    result: dict[str, Any],
    *,
    name: str,
    role: str,
    bind: str,
    station: str | None,
    asked: str,
) -> Joined:
    try:
        peers = {
            str(peer): cfg.PeerConfig(
                address=str(p.get("address", "")),
                public_key=str(p["public_key"]),
                role=str(p.get("role", "terminal")),
            )
            for peer, p in dict(result["peers"]).items()
        }
        site, prefix = str(result["site"]), str(result["prefix"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise JoinError("bad_answer", f"the site's answer is incomplete ({exc})") from None
    host = bind.removeprefix("tcp://").rpartition(":")[0]
    prepare_joining_device(
        data_dir,
        site=site,
        node=name,
        role=role,
        bind=bind,
        device_prefix=prefix,
        peers=peers,
        station=station,
        mdns=True,
        mdns_interfaces=(host,),
    )
    log.warning("this device joined the site", extra={"site": site, "node": name, "prefix": prefix})
    return Joined(site=site, node=name, prefix=prefix, peers=peers, asked=asked)
