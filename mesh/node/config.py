"""A node's data directory: what is in it, and its configuration file.

Layout of ``DATA/`` (everything a device needs, so ``--data`` alone restarts it):

| path | what |
| --- | --- |
| ``node.json`` | this configuration (site, node id, role, addresses, peers, initial membership) |
| ``keys/`` | the node's CURVE key pair (owner-only files) |
| ``genesis.json`` | the catalog a new site sells with before it ever reached the cloud |
| ``raft.db`` | the Raft log, hard state, snapshots and the ledger's applied state (SQLite) |
| ``check_counter`` | the temporary check ID counter's durable reservation |
| ``control.sock`` | the local control socket (owner-only) |

The file is JSON so a technician can read it; unknown keys are refused, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "node.json"
KEYS_DIR = "keys"
GENESIS_FILE = "genesis.json"
DB_FILE = "raft.db"
LOST_MARKER_FILE = "raft.db.lost"  # present while a node rebuilds a store it lost
COUNTER_FILE = "check_counter"
CONTROL_SOCKET = "control.sock"
CONFIG_FORMAT = 1
ROLES = ("hub", "terminal", "kds", "handheld")
# The stations a kitchen screen serves (docs/kitchen.md): the catalog may name
# others for its items, but the KDS app shows only these (kitchen.settings.STATIONS).
KDS_STATIONS = ("grill", "fry", "cold", "bar", "expo")
MAX_UNIX_SOCKET_PATH = 100  # bytes: sun_path is 108 on Linux, with room for the NUL


class ConfigError(Exception):
    """The data directory or its configuration is missing, malformed or inconsistent."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerConfig:
    address: str  # tcp://host:port of the peer's ROUTER; "" when only mDNS knows it
    public_key: str  # its CURVE public key (Z85)
    role: str = "terminal"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloudConfig:
    url: str
    token: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    site: str
    node: str
    role: str
    bind: str  # tcp://host:port our ROUTER binds to
    device_prefix: str  # the temporary check ID prefix of this device
    peers: dict[str, PeerConfig] = field(default_factory=dict)
    voters: tuple[str, ...] = ()
    learners: tuple[str, ...] = ()
    station: str | None = None
    mdns: bool = True
    mdns_interfaces: tuple[str, ...] = ()
    # The guest door (mesh.net.guest), where new devices ask to join with a code:
    # open when mDNS can advertise it, or when ``guest_bind`` names its address
    # ("": the ROUTER's host, any free port).
    guest_door: bool = True
    guest_bind: str = ""
    cloud: CloudConfig | None = None
    snapshot_every: int | None = None  # applied entries between snapshots (default in constants)
    # Membership (docs/membership.md): what the leader keeps the voters at, and when
    # it replaces a silent voter. ``voter_target`` None: 3, or 5 from 7 devices on.
    auto_membership: bool = True
    voter_target: int | None = None
    voter_dead_after_s: float = 60.0  # s a voter may be unheard before it is replaced
    promote_lag_entries: int = 64  # a learner within this many entries is caught up
    format: int = CONFIG_FORMAT

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["voters"] = list(self.voters)
        data["learners"] = list(self.learners)
        data["mdns_interfaces"] = list(self.mdns_interfaces)
        return data

    @classmethod
    def from_json(cls, data: Any) -> NodeConfig:
        if not isinstance(data, dict):
            raise ConfigError(f"{CONFIG_FILE} must hold a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{CONFIG_FILE} has unknown keys: {', '.join(sorted(unknown))}")
        try:
            peers = {name: PeerConfig(**peer) for name, peer in dict(data.get("peers", {})).items()}
            cloud = CloudConfig(**data["cloud"]) if data.get("cloud") else None
            config = cls(
                **{
                    **data,
                    "peers": peers,
                    "cloud": cloud,
                    "voters": tuple(data.get("voters", ())),
                    "learners": tuple(data.get("learners", ())),
                    "mdns_interfaces": tuple(data.get("mdns_interfaces", ())),
                }
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{CONFIG_FILE} is malformed: {exc}") from exc
        config.check()
        return config

    def check(self) -> None:
        if self.format != CONFIG_FORMAT:
            raise ConfigError(f"{CONFIG_FILE} format {self.format} is not {CONFIG_FORMAT}")
        if self.role not in ROLES:
            raise ConfigError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        if not self.bind.startswith("tcp://"):
            raise ConfigError(f"bind {self.bind!r} is not a tcp:// address")
        port = self.bind.rpartition(":")[2]
        # ZeroMQ takes port 70000 and listens on 4464 (70000 - 65536): say so instead.
        if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
            raise ConfigError(f"bind {self.bind!r} needs a port from 1 to 65535")
        if self.node in self.peers:
            raise ConfigError(f"node {self.node!r} lists itself as a peer")
        if self.snapshot_every is not None and self.snapshot_every < 1:
            raise ConfigError("snapshot_every must be a positive number of entries")
        if self.voter_target is not None and self.voter_target < 1:
            raise ConfigError("voter_target must be at least 1 (or null for the default)")
        if not self.voter_dead_after_s > 0:
            raise ConfigError("voter_dead_after_s must be a positive number of seconds")
        if self.promote_lag_entries < 0:
            raise ConfigError("promote_lag_entries must not be negative")
        if set(self.voters) & set(self.learners):
            raise ConfigError("a node cannot be both a voter and a learner")


def load(data_dir: Path) -> NodeConfig:
    path = data_dir / CONFIG_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{data_dir} is not a node's data directory (no {CONFIG_FILE}); "
            "create one with `tablemesh site init`"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    return NodeConfig.from_json(raw)


def write_json_atomically(path: Path, data: Any, mode: int = 0o600) -> None:
    """Write ``data`` as JSON so that a crash leaves either the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(data_dir: Path, config: NodeConfig) -> None:
    config.check()
    # Here, not at the top: mesh.net.keys loads ZeroMQ, which ``ctl`` (it reads
    # this module) never needs.
    from mesh.net.keys import make_private_dir

    make_private_dir(data_dir)  # 0700 if made here, as deploy/README.md asks
    write_json_atomically(data_dir / CONFIG_FILE, config.to_json())


def control_socket_path(data_dir: Path) -> Path:
    path = data_dir.resolve() / CONTROL_SOCKET
    if len(os.fsencode(path)) > MAX_UNIX_SOCKET_PATH:
        raise ConfigError(
            f"the data directory's path is too long for a Unix socket ({path}); use a shorter one"
        )
    return path
