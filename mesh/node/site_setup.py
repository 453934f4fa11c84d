"""``tablemesh site init``: the data directories of every device of a new site, at once.

Each device gets its own directory (its keys, its ``node.json`` listing every
other device with its address and public key, and the ``genesis.json`` catalog
that the first leader commits so the site can sell before it ever reached the
cloud). Staff PINs are chosen here, hashed with argon2, and returned so the
caller can hand them to the manager; only the hashes are written.

Voters: the first ``voter_target(n)`` devices by preference (hub, then wired
terminal, then KDS, then handheld); the others join as learners.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh.ledger.check_ids import ALPHABET
from mesh.ledger.sample_catalog import SAMPLE_STAFF_ROLES, sample_catalog
from mesh.net import schema
from mesh.net.addresses import free_tcp_ports
from mesh.net.constants import MAX_ID_CHARS
from mesh.net.keys import load_or_create_keypair
from mesh.node import config as cfg
from mesh.node.membership import ROLE_PREFERENCE, voter_target
from mesh.node.pins import hash_pin

__all__ = [
    "ROLE_PREFERENCE",
    "DeviceSpec",
    "StaffLogin",
    "default_devices",
    "init_site",
    "prefix_for",
    "prepare_joining_device",
    "read_site_file",
    "voter_target",
    "write_site_file",
]

SITE_FILE = "site.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    name: str
    role: str = "terminal"
    station: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StaffLogin:
    staff_id: str
    name: str
    role: str
    pin: str


def default_devices(count: int) -> list[DeviceSpec]:
    """``count`` devices named n1..nN, all terminals."""
    return [DeviceSpec(name=f"n{i}") for i in range(1, count + 1)]


def _prefix(i: int) -> str:
    # A letter then a symbol (A1, A2, ... B0, ...): unique per device of the site,
    # and visibly not a check number.
    return ALPHABET[10 + i // 32 % 22] + ALPHABET[i % 32]


def _pins(staff_ids: list[str]) -> list[str]:
    pins: set[str] = set()
    out = []
    for _ in staff_ids:
        while True:
            pin = f"{secrets.randbelow(10**4):04d}"
            if pin not in pins and len(set(pin)) > 1:
                pins.add(pin)
                out.append(pin)
                break
    return out


def init_site(
    root: Path,
    devices: list[DeviceSpec],
    *,
    site: str = "demo",
    host: str = "127.0.0.1",
    hosts: list[str] | None = None,
    ports: list[int] | None = None,
    mdns: bool = False,
    static_peers: bool = True,
    cloud: cfg.CloudConfig | None = None,
    pins: dict[str, str] | None = None,
) -> list[StaffLogin]:
    """Write ``root/<device>/`` for every device; return the staff logins (with PINs)."""
    if not devices:
        raise ValueError("a site needs at least one device")
    names = [d.name for d in devices]
    if len(set(names)) != len(names):
        raise ValueError("device names must be unique")
    # Checked here, not first by a node that will not start: ids go into every frame.
    for what, value in [("site", site)] + [("device", n) for n in names]:
        try:
            schema.check_id(value, what)
        except schema.SchemaError:
            raise ValueError(f"{what} {value!r}: use 1-{MAX_ID_CHARS} of A-Z a-z 0-9 - _") from None
    for name in names:
        if (root / name / cfg.CONFIG_FILE).exists():
            raise FileExistsError(f"{root / name} already holds a node; refusing to overwrite it")
    hosts = hosts or [host] * len(devices)
    if len(hosts) != len(devices):
        raise ValueError("give one host per device")
    ports = ports or (
        free_tcp_ports(len(devices), host) if len(set(hosts)) == 1 else [7400] * len(devices)
    )
    if len(ports) != len(devices):
        raise ValueError("give one port per device")
    taken: dict[tuple[str, int], str] = {}
    for name, address in zip(names, zip(hosts, ports, strict=True), strict=True):
        if address in taken:
            raise ValueError(
                f"{taken[address]} and {name} would both listen on {address[0]}:{address[1]}"
            )
        taken[address] = name
    ranked = sorted(devices, key=lambda d: (ROLE_PREFERENCE[d.role], names.index(d.name)))
    voters = sorted(d.name for d in ranked[: voter_target(len(devices))])
    learners = sorted(set(names) - set(voters))
    keys = {d.name: load_or_create_keypair(root / d.name / cfg.KEYS_DIR) for d in devices}
    addresses = {
        d.name: f"tcp://{h}:{port}" for d, h, port in zip(devices, hosts, ports, strict=True)
    }

    staff_ids = sorted(SAMPLE_STAFF_ROLES)
    chosen = pins or dict(zip(staff_ids, _pins(staff_ids), strict=True))
    catalog = sample_catalog({sid: hash_pin(chosen[sid]) for sid in staff_ids})

    for i, device in enumerate(devices):
        peers = {
            other.name: cfg.PeerConfig(
                # Without static peers, only the key is known: mDNS says where it listens.
                address=addresses[other.name] if static_peers else "",
                public_key=keys[other.name].public,
                role=other.role,
            )
            for other in devices
            if other.name != device.name
        }
        node_cfg = cfg.NodeConfig(
            site=site,
            node=device.name,
            role=device.role,
            station=device.station,
            bind=addresses[device.name],
            device_prefix=_prefix(i + 1),
            peers=peers,
            voters=tuple(voters),
            learners=tuple(learners),
            mdns=mdns,
            mdns_interfaces=(hosts[i],) if mdns else (),
            cloud=cloud,
        )
        data_dir = root / device.name
        cfg.save(data_dir, node_cfg)
        cfg.write_json_atomically(data_dir / cfg.GENESIS_FILE, catalog)
    return [
        StaffLogin(staff_id=sid, name=SAMPLE_STAFF_ROLES[sid][0], role=SAMPLE_STAFF_ROLES[sid][1],
                   pin=chosen[sid])
        for sid in staff_ids
    ]  # fmt: skip


def prefix_for(device_number: int) -> str:
    """The temporary check ID prefix of the site's ``device_number``-th device (1-based)."""
    return _prefix(device_number)


def prepare_joining_device(
    data_dir: Path,
    *,
    site: str,
    node: str,
    role: str,
    bind: str,
    device_prefix: str,
    peers: Mapping[str, cfg.PeerConfig],
    station: str | None = None,
    mdns: bool = False,
    mdns_interfaces: tuple[str, ...] = (),
    voter_dead_after_s: float | None = None,
) -> str:
    """Write an enrolled device's data directory; return its public key (for the enrolment).

    It lists no voters: it joins as a learner with an empty log, which the leader
    fills. ``peers`` are the enrolled devices the enrolment answer named.
    """
    if (data_dir / cfg.CONFIG_FILE).exists():
        raise FileExistsError(f"{data_dir} already holds a node; refusing to overwrite it")
    keys = load_or_create_keypair(data_dir / cfg.KEYS_DIR)
    extra: dict[str, Any] = {}
    if voter_dead_after_s is not None:
        extra["voter_dead_after_s"] = voter_dead_after_s
    cfg.save(
        data_dir,
        cfg.NodeConfig(
            site=site,
            node=node,
            role=role,
            station=station,
            bind=bind,
            device_prefix=device_prefix,
            peers=dict(peers),
            mdns=mdns,
            mdns_interfaces=mdns_interfaces,
            **extra,
        ),
    )
    return keys.public


def write_site_file(root: Path, content: Mapping[str, Any]) -> Path:
    path = root / SITE_FILE
    cfg.write_json_atomically(path, content, mode=0o644)
    return path


def read_site_file(root: Path) -> dict[str, object]:
    data = json.loads((root / SITE_FILE).read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{root / SITE_FILE} is not a JSON object")
    return data
