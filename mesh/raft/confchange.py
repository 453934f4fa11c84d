"""Single-server membership changes: the ConfChange record and how it alters a ConfState.

A ConfChange travels as the ``data`` of an entry of kind ``CONF_CHANGE``. Its
byte form is ours (not msgpack) so the pure core can decode it without any
dependency: ``version (1 byte) | type (1 byte) | node id (UTF-8)``. Bump
``CONF_CHANGE_VERSION`` if the shape changes; decoders reject versions they do
not know rather than guess.

Rules:
- ADD_VOTER: the node is not a member yet; it joins as a voter.
- ADD_LEARNER: the node is not a member yet; it joins as a non-voting learner.
- PROMOTE: the node is a learner; it becomes a voter.
- REMOVE: the node is a member (voter or learner); it leaves. The last voter cannot.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mesh.raft.errors import InvalidConfChange
from mesh.raft.types import ConfState, NodeId

CONF_CHANGE_VERSION = 1
MAX_NODE_ID_BYTES = 255


class ConfChangeType(enum.Enum):
    ADD_VOTER = 1
    ADD_LEARNER = 2
    PROMOTE = 3
    REMOVE = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfChange:
    type: ConfChangeType
    node_id: NodeId

    def encode(self) -> bytes:
        raw = self.node_id.encode("utf-8")
        if not raw or len(raw) > MAX_NODE_ID_BYTES:
            raise InvalidConfChange(f"node id must be 1..{MAX_NODE_ID_BYTES} bytes")
        return bytes((CONF_CHANGE_VERSION, self.type.value)) + raw

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        if len(data) < 3:
            raise InvalidConfChange("conf change too short")
        if data[0] != CONF_CHANGE_VERSION:
            raise InvalidConfChange(f"unknown conf change version {data[0]}")
        try:
            kind = ConfChangeType(data[1])
            node_id = data[2:].decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidConfChange(f"malformed conf change: {exc}") from exc
        if len(data) - 2 > MAX_NODE_ID_BYTES:
            raise InvalidConfChange("node id too long")
        return cls(type=kind, node_id=node_id)


def check_conf_change(conf: ConfState, cc: ConfChange) -> None:
    """Raise InvalidConfChange unless ``cc`` is meaningful against ``conf``."""
    member = cc.node_id in conf.voters or cc.node_id in conf.learners
    if cc.type in (ConfChangeType.ADD_VOTER, ConfChangeType.ADD_LEARNER) and member:
        raise InvalidConfChange(f"{cc.node_id} is already a member")
    if cc.type is ConfChangeType.PROMOTE and cc.node_id not in conf.learners:
        raise InvalidConfChange(f"{cc.node_id} is not a learner")
    if cc.type is ConfChangeType.REMOVE:
        if not member:
            raise InvalidConfChange(f"{cc.node_id} is not a member")
        if conf.voters == frozenset({cc.node_id}):
            raise InvalidConfChange("cannot remove the last voter")


def apply_conf_change(conf: ConfState, cc: ConfChange) -> ConfState:
    """The configuration after ``cc``. An invalid change leaves ``conf`` unchanged.

    Leaving it unchanged (instead of raising) keeps every node deterministic even
    if an invalid change were ever in a log: all nodes skip it alike. The leader
    refuses invalid changes at proposal time, so this is a backstop only.
    """
    try:
        check_conf_change(conf, cc)
    except InvalidConfChange:
        return conf
    voters, learners = set(conf.voters), set(conf.learners)
    if cc.type is ConfChangeType.ADD_VOTER:
        voters.add(cc.node_id)
    elif cc.type is ConfChangeType.ADD_LEARNER:
        learners.add(cc.node_id)
    elif cc.type is ConfChangeType.PROMOTE:
        learners.discard(cc.node_id)
        voters.add(cc.node_id)
    else:
        voters.discard(cc.node_id)
        learners.discard(cc.node_id)
    return ConfState(voters=frozenset(voters), learners=frozenset(learners))
