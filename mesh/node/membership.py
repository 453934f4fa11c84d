"""Who votes: the leader's membership policy, as a pure function of what it knows.

``next_change(view, settings)`` returns at most ONE single-server ``ConfChange``
for the leader to propose now, or None. It never reads a clock, a socket or
random numbers: the node (``mesh.node.node``) fills a ``MeshView`` from its Raft
status and its last-heard table and proposes what comes back; tests and the
simulator drive the same function over invented views.

Rules, in the order they are tried (the first that applies wins):

1. A membership change is pending (proposed, not committed): nothing. Raft
   refuses a second one anyway; saying nothing keeps the log clean.
2. No quorum of voters is reachable: nothing. A change could not commit, and
   would block every later change until it did.
3. A member whose key was revoked (``view.revoked``): REMOVE it (a voter only
   if the quorum stands without it). Then: a voter other than the leader has been silent longer than
   ``voter_dead_after_s``: REMOVE it (the longest silent first), provided the
   reachable voters still make a quorum of the configuration without it.
4. Fewer voters than the target: PROMOTE the best learner that is reachable and
   caught up (it has acknowledged entries, and its match index is within
   ``promote_lag_entries`` of the leader's last index), by device preference
   (hub > terminal > kds > handheld), then id.
5. An enrolled device that is not a member (it was replaced while away, or is
   new) has been heard from recently: ADD_LEARNER. Rejoining always starts as a
   learner; rule 4 promotes it once it has caught up, if a vote is needed.
6. More voters than the target: REMOVE the least preferred reachable voter that
   is not the leader (rule 5 re-adds it as a learner next), if the quorum stands.

Why remove before promote (3 before 4): adding a voter first would raise the
quorum while a dead voter still counts in the denominator; removing first never
does, and the promoted learner restores the count one change later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mesh.raft.confchange import ConfChange, ConfChangeType
from mesh.raft.types import ConfState, NodeId

ROLE_PREFERENCE: Mapping[str, int] = {"hub": 0, "terminal": 1, "kds": 2, "handheld": 3}
UNKNOWN_ROLE_RANK = len(ROLE_PREFERENCE)  # a device of unknown kind is the last choice


def voter_target(devices: int) -> int:
    """3 voters, or 5 from 7 devices on (DESIGN.md), never more than there are devices."""
    return max(1, min(devices, 5 if devices >= 7 else 3))


def quorum(voters: int) -> int:
    return voters // 2 + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class MembershipSettings:
    """The knobs; node.json: voter_target, voter_dead_after_s, promote_lag_entries."""

    target: int | None = None  # None: voter_target(number of enrolled devices)
    voter_dead_after_s: float = 60.0  # s a voter may be silent before it is replaced
    reachable_within_s: float = 1.0  # s since last heard for a device to count as reachable
    promote_lag_entries: int = 64  # a learner this close to the leader's last index is caught up


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerView:
    """What the leader knows of one enrolled device."""

    role: str  # device kind: hub, terminal, kds, handheld
    silent_s: float  # s since the leader last heard from it (math.inf: never)
    match: int = 0  # its match index in the leader's progress (0 if not a member)


@dataclass(frozen=True, slots=True, kw_only=True)
class MeshView:
    leader: NodeId
    conf: ConfState
    last_index: int  # the leader's last log index
    pending: bool  # a CONF_CHANGE entry is in the log but not committed
    peers: Mapping[NodeId, PeerView] = field(default_factory=dict)  # every enrolled device but us
    revoked: frozenset[NodeId] = frozenset()  # members whose key the site revoked


def _rank(view: MeshView, nid: NodeId) -> tuple[int, NodeId]:
    peer = view.peers.get(nid)
    role = peer.role if peer is not None else None
    return (ROLE_PREFERENCE.get(role or "", UNKNOWN_ROLE_RANK), nid)


def target_of(view: MeshView, settings: MembershipSettings) -> int:
    devices = len(set(view.peers) | view.conf.voters | view.conf.learners | {view.leader})
    return max(1, settings.target) if settings.target is not None else voter_target(devices)


def reachable(view: MeshView, nid: NodeId, settings: MembershipSettings) -> bool:
    if nid == view.leader:
        return True
    peer = view.peers.get(nid)
    return peer is not None and peer.silent_s < settings.reachable_within_s


def caught_up(view: MeshView, nid: NodeId, settings: MembershipSettings) -> bool:
    """It acknowledged entries (match 0 is "never answered", not "close") and lags little."""
    match = view.peers[nid].match
    return match > 0 and match >= view.last_index - settings.promote_lag_entries


def _quorum_without(view: MeshView, settings: MembershipSettings, gone: NodeId | None) -> bool:
    """Whether the reachable voters make a quorum of the voters once ``gone`` left."""
    voters = view.conf.voters - ({gone} if gone is not None else set())
    if not voters:
        return False
    up = sum(1 for v in voters if reachable(view, v, settings))
    return up >= quorum(len(voters))


def next_change(view: MeshView, settings: MembershipSettings) -> ConfChange | None:
    """The one change the leader should propose now, or None (see the module's rules)."""
    conf = view.conf
    if view.pending or view.leader not in conf.voters:
        return None
    if not _quorum_without(view, settings, None):
        return None
    target = target_of(view, settings)

    for gone in sorted(view.revoked & (conf.voters | conf.learners) - {view.leader}):
        if gone in conf.learners or _quorum_without(view, settings, gone):
            return ConfChange(type=ConfChangeType.REMOVE, node_id=gone)

    dead = [
        (view.peers[v].silent_s, v)
        for v in conf.voters
        if v != view.leader
        and v in view.peers
        and view.peers[v].silent_s > settings.voter_dead_after_s
    ]
    for _, victim in sorted(dead, key=lambda d: (-d[0], d[1])):
        if _quorum_without(view, settings, victim):
            return ConfChange(type=ConfChangeType.REMOVE, node_id=victim)

    if len(conf.voters) < target:
        ready = [
            n
            for n in conf.learners
            if reachable(view, n, settings) and caught_up(view, n, settings)
        ]
        if ready:
            best = min(ready, key=lambda n: _rank(view, n))
            return ConfChange(type=ConfChangeType.PROMOTE, node_id=best)

    returned = [
        n
        for n in view.peers
        if n not in conf.voters and n not in conf.learners and reachable(view, n, settings)
    ]
    if returned:
        return ConfChange(
            type=ConfChangeType.ADD_LEARNER, node_id=min(returned, key=lambda n: _rank(view, n))
        )

    if len(conf.voters) > target:
        surplus = [
            v
            for v in conf.voters
            if v != view.leader
            and reachable(view, v, settings)
            and _quorum_without(view, settings, v)
        ]
        if surplus:
            worst = max(surplus, key=lambda n: _rank(view, n))
            return ConfChange(type=ConfChangeType.REMOVE, node_id=worst)
    return None
