"""Raft as a pure, deterministic state machine (in the style of etcd-io/raft).

The caller drives everything: ``tick()``, ``step(msg)``, ``propose(data)``, then
``ready()`` hands back what to persist, what to send (only after persisting) and
what to apply; ``advance()`` acknowledges it. See ``mesh.raft.rawnode``.

Must never import: anything else of this project, sockets, asyncio, threading,
time, random, sqlite3 or any other I/O. Randomness is injected by the caller.
(The simulator in ``mesh.raft.sim`` is a test harness beside the core: it seeds
its own RNG and the core never imports it.)
"""

from mesh.raft.confchange import ConfChange, ConfChangeType
from mesh.raft.errors import (
    CompactedError,
    ConfChangePending,
    ConfChangeTooEarly,
    InvalidConfChange,
    InvalidTransfer,
    InvariantViolation,
    LeadershipTransferring,
    NotLeader,
    ProposalRefused,
    RaftError,
    SnapshotOutOfDate,
    StorageError,
    UnavailableError,
)
from mesh.raft.progress import ProgressState
from mesh.raft.raft import Config, Rng, Role
from mesh.raft.rawnode import FollowerStatus, RawNode, Ready, SoftState, Status
from mesh.raft.storage import MemoryStorage, Storage, bootstrap
from mesh.raft.types import (
    RAFT_WIRE_VERSION,
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    NodeId,
    Snapshot,
    SnapshotMeta,
)

__all__ = [
    "RAFT_WIRE_VERSION",
    "CompactedError",
    "ConfChange",
    "ConfChangePending",
    "ConfChangeTooEarly",
    "ConfChangeType",
    "ConfState",
    "Config",
    "Entry",
    "EntryKind",
    "FollowerStatus",
    "HardState",
    "InvalidConfChange",
    "InvalidTransfer",
    "InvariantViolation",
    "LeadershipTransferring",
    "MemoryStorage",
    "Message",
    "MessageType",
    "NodeId",
    "NotLeader",
    "ProgressState",
    "ProposalRefused",
    "RaftError",
    "RawNode",
    "Ready",
    "Rng",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "SnapshotOutOfDate",
    "SoftState",
    "Status",
    "Storage",
    "StorageError",
    "UnavailableError",
    "bootstrap",
]
