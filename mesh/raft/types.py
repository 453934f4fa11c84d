"""The data Raft speaks: entries, messages, hard state, snapshots.

Everything here is a frozen, keyword-only dataclass made of ints, strings,
bytes, tuples and frozensets, so that ``mesh.net.schema`` can encode it with
msgpack field by field. The shape is versioned by ``RAFT_WIRE_VERSION``: bump it
whenever a field is added, removed or changes meaning.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

RAFT_WIRE_VERSION = 1

NodeId = str
"""A node's stable id (its device name within the site, e.g. ``"t1"``)."""


class EntryKind(enum.Enum):
    """What a log entry carries. A leader's first entry in its term is an empty NORMAL one."""

    NORMAL = "normal"
    CONF_CHANGE = "conf_change"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    term: int
    index: int
    kind: EntryKind = EntryKind.NORMAL
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class HardState:
    """What must be on disk before any message promising it is sent."""

    term: int = 0
    vote: NodeId | None = None
    commit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfState:
    """The membership: voters decide elections and commits; learners only receive."""

    voters: frozenset[NodeId] = field(default_factory=frozenset)
    learners: frozenset[NodeId] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotMeta:
    index: int
    term: int
    conf: ConfState


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """The state machine's state as of ``meta.index`` (opaque bytes to Raft)."""

    meta: SnapshotMeta
    data: bytes = b""


class MessageType(enum.Enum):
    PRE_VOTE = "pre_vote"
    PRE_VOTE_RESP = "pre_vote_resp"
    VOTE = "vote"
    VOTE_RESP = "vote_resp"
    APPEND = "append"
    APPEND_RESP = "append_resp"
    HEARTBEAT = "heartbeat"
    HEARTBEAT_RESP = "heartbeat_resp"
    SNAPSHOT = "snapshot"
    TIMEOUT_NOW = "timeout_now"


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One Raft message between two nodes.

    Fields unused by a type keep their defaults. ``context`` is an opaque tag the
    core may use (e.g. to mark a campaign started by a leader transfer).

    How the core fills them:
    - (PRE_)VOTE: ``term`` asked for, ``index``/``log_term`` = candidate's last entry;
      ``context=b"transfer"`` when a leader transfer caused it.
    - (PRE_)VOTE_RESP: ``reject``; a grant carries the term asked for.
    - APPEND: ``index``/``log_term`` = the entry before ``entries``; ``commit``.
    - APPEND_RESP: accepted: ``index`` = last index now matching the leader. Rejected:
      ``index`` = the rejected APPEND's ``index``, ``reject_hint`` = the follower's
      last index whose term is <= that APPEND's ``log_term``, ``log_term`` = its term.
    - HEARTBEAT: ``commit`` (never beyond what the follower is known to hold).
    - SNAPSHOT: ``snapshot``. TIMEOUT_NOW: ``term`` only.
    """

    type: MessageType
    to: NodeId
    frm: NodeId
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""
