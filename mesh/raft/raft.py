"""The Raft state machine proper: elections, replication, commitment, membership.

Pure and deterministic: input is ``tick()``, ``step(message)`` and the proposal
calls; output is state plus ``self.msgs`` (messages to send once the state they
promise is persisted; ``RawNode`` packages both into a ``Ready``). The only source
of randomness is the injected ``Rng``.

Rules:
- Roles and their handlers are data (``_ROLE_HANDLERS``): becoming a role swaps
  ``self._step_role`` and ``self._tick`` (as etcd's becomeLeader sets
  r.step = stepLeader). Allowed role changes are listed in ``_TRANSITIONS``.
- Terms: a message from a higher term makes us a follower in that term, except
  pre-votes (which never change terms) and votes arriving inside a healthy
  leader's lease (ignored, so a flapping device cannot depose the leader).
- A leader commits by counting replicas only entries of its own term (figure 8);
  earlier entries become committed with them.
- Membership: the latest CONF_CHANGE entry in a node's log is its configuration
  from the moment the entry is appended, committed or not (single-server rule,
  thesis 4.1). Truncating the entry reverts it. One change may be uncommitted at
  a time, and a leader proposes none before it has committed an entry of its term.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from mesh.raft.confchange import ConfChange, apply_conf_change, check_conf_change
from mesh.raft.errors import (
    CompactedError,
    ConfChangePending,
    ConfChangeTooEarly,
    InvalidTransfer,
    InvariantViolation,
    LeadershipTransferring,
    NotLeader,
)
from mesh.raft.log import RaftLog
from mesh.raft.progress import Progress, ProgressState
from mesh.raft.storage import Storage
from mesh.raft.types import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    NodeId,
    Snapshot,
)

CAMPAIGN_TRANSFER = b"transfer"
"""``Message.context`` of votes caused by a leader transfer: they bypass the lease."""

COMMIT_ONLY = b"commit"
"""``Message.context`` of an APPEND with no entries to a follower in REPLICATE: only
news of the commit index. Accepted, it is not answered (it cannot move the follower's
match, and heartbeats keep the leader's view of it fresh); that spares the leader one
message per follower per commit. A rejection is answered as always, and so is the
empty append a heartbeat's answer triggers when the leader still sees the follower
behind: its answers may have been lost, and that append is how the leader learns the
match again.
"""

LOST_STATE = b"lost"
"""``Message.context`` of an APPEND_RESP rejection from a node that lost its durable state:
the leader must forget what it believed that node held (its ``match``) and probe again."""


class Rng(Protocol):
    """The randomness the core needs; ``random.Random(seed)`` satisfies it."""

    def randrange(self, start: int, stop: int, /) -> int: ...


class Role(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre_candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


_TRANSITIONS: dict[Role, frozenset[Role]] = {
    Role.FOLLOWER: frozenset({Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE}),
    Role.PRE_CANDIDATE: frozenset({Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE}),
    Role.CANDIDATE: frozenset({Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE, Role.LEADER}),
    Role.LEADER: frozenset({Role.FOLLOWER}),
}
"""Which roles may follow which (PRE_CANDIDATE -> LEADER is impossible by design)."""

_ROLE_HANDLERS: dict[Role, tuple[str, str]] = {
    Role.FOLLOWER: ("_step_follower", "_tick_election"),
    Role.PRE_CANDIDATE: ("_step_candidate", "_tick_election"),
    Role.CANDIDATE: ("_step_candidate", "_tick_election"),
    Role.LEADER: ("_step_leader", "_tick_heartbeat"),
}
"""The (step, tick) method names each role runs."""

_FROM_LEADER = frozenset({MessageType.APPEND, MessageType.HEARTBEAT, MessageType.SNAPSHOT})


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Parameters of one node. Times are in ticks; the caller decides how long a tick is."""

    id: NodeId
    election_tick: int = 10
    heartbeat_tick: int = 1
    max_inflight: int = 64
    max_size_per_msg: int = 1 << 20
    pre_vote: bool = True
    check_quorum: bool = True
    applied: int = 0
    """The last index the state machine has applied (on restart); 0 means "from the snapshot"."""
    lost_state: bool = False
    """This node's durable state was lost (e.g. a corrupt store was moved aside). Until a
    leader has brought its log up to that leader's commit index it neither votes nor
    campaigns, and it tells the leader its log is shorter than the leader believes."""

    def validate(self) -> None:
        if not self.id:
            raise ValueError("id must not be empty")
        if self.heartbeat_tick <= 0:
            raise ValueError("heartbeat_tick must be > 0")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election_tick must be > heartbeat_tick")
        if self.max_inflight <= 0:
            raise ValueError("max_inflight must be > 0")
        if self.max_size_per_msg <= 0:
            raise ValueError("max_size_per_msg must be > 0")


class _Campaign(enum.Enum):
    PRE_ELECTION = "pre_election"
    ELECTION = "election"
    TRANSFER = "transfer"


class _Poll(enum.Enum):
    PENDING = "pending"
    WON = "won"
    LOST = "lost"


def _quorum(n: int) -> int:
    return n // 2 + 1


class Raft:
    """One node's Raft state. Drive it through ``RawNode``; tests may poke it directly."""

    def __init__(self, config: Config, storage: Storage, rng: Rng) -> None:
        config.validate()
        self.id = config.id
        self.cfg = config
        self.rng = rng
        self.log = RaftLog(storage)
        hard, base_conf = storage.initial_state()

        self.term = 0
        self.vote: NodeId | None = None
        self.lead: NodeId | None = None
        self.role = Role.FOLLOWER
        self.msgs: list[Message] = []
        self.votes: dict[NodeId, bool] = {}
        self.progress: dict[NodeId, Progress] = {}
        self.lead_transferee: NodeId | None = None
        self.term_start_index = 0  # index of the leader's first (empty) entry in its term
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = config.election_tick
        # Lost state: set until our commit index reaches the highest commit a leader
        # has told us about (``recover_to``; 0 until we hear from a leader).
        self.recovering = config.lost_state
        self.recover_to = 0

        # (index, configuration) from the snapshot on, one per CONF_CHANGE entry.
        snap_index = self.log.first_index() - 1
        self.conf_history: list[tuple[int, ConfState]] = [(snap_index, base_conf)]
        self.conf = base_conf
        self._replay_conf(self.log.slice(self.log.first_index(), self.log.last_index() + 1))

        if hard != HardState():
            if not snap_index <= hard.commit <= self.log.last_index():
                raise InvariantViolation(
                    f"stored commit {hard.commit} outside [{snap_index}, {self.log.last_index()}]"
                )
            self.term, self.vote = hard.term, hard.vote
            self.log.committed = hard.commit
        if config.applied:
            if not snap_index <= config.applied <= self.log.committed:
                raise InvariantViolation(f"applied {config.applied} outside the committed log")
            self.log.applied = config.applied

        self._step_role: Callable[[Message], None] = self._step_follower
        self._tick: Callable[[], None] = self._tick_election
        self.become_follower(self.term, None)

    # -- state ------------------------------------------------------------
    def hard_state(self) -> HardState:
        return HardState(term=self.term, vote=self.vote, commit=self.log.committed)

    def promotable(self) -> bool:
        """Only a voter of its own configuration, with its durable state intact, may campaign."""
        return self.id in self.conf.voters and not self.recovering

    def pending_conf_index(self) -> int:
        """Index of the newest CONF_CHANGE entry in the log (0 if none after the snapshot)."""
        return self.conf_history[-1][0] if len(self.conf_history) > 1 else 0

    def conf_at(self, index: int) -> ConfState:
        """The configuration in force once entry ``index`` is in the log."""
        conf = self.conf_history[0][1]
        for at, c in self.conf_history:
            if at > index:
                break
            conf = c
        return conf

    # -- role changes -----------------------------------------------------
    def _set_role(self, role: Role) -> None:
        if role not in _TRANSITIONS[self.role]:
            raise InvariantViolation(f"illegal role change {self.role.value} -> {role.value}")
        self.role = role
        step_name, tick_name = _ROLE_HANDLERS[role]
        self._step_role = getattr(self, step_name)
        self._tick = getattr(self, tick_name)

    def _reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = None
        self.lead = None
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        # Randomised in [election_tick, 2 * election_tick) so that split votes are rare.
        self.randomized_election_timeout = self.cfg.election_tick + self.rng.randrange(
            0, self.cfg.election_tick
        )
        self.lead_transferee = None
        self.votes = {}
        self.progress = {}

    def become_follower(self, term: int, lead: NodeId | None) -> None:
        self._set_role(Role.FOLLOWER)
        self._reset(term)
        self.lead = lead

    def become_pre_candidate(self) -> None:
        # Term and vote stay: a pre-election changes nothing a real vote depends on.
        self._set_role(Role.PRE_CANDIDATE)
        self.votes = {}
        self.lead = None

    def become_candidate(self) -> None:
        self._set_role(Role.CANDIDATE)
        self._reset(self.term + 1)
        self.vote = self.id

    def become_leader(self) -> None:
        self._set_role(Role.LEADER)
        self._reset(self.term)
        self.lead = self.id
        self._rebuild_progress()
        # The empty entry commits everything before it (figure 8) and lets the
        # leader propose membership changes once it is committed.
        self.term_start_index = self.log.last_index() + 1
        self._append_entries([Entry(term=self.term, index=self.term_start_index)])

    def _rebuild_progress(self) -> None:
        last = self.log.last_index()
        old = self.progress
        self.progress = {}
        for nid in sorted(self.conf.voters | self.conf.learners):
            pr = old.get(nid)
            if pr is None:
                pr = Progress(
                    next_index=last + 1,
                    max_inflight=self.cfg.max_inflight,
                    is_learner=nid in self.conf.learners,
                )
                if nid == self.id:
                    pr.match = last
                    pr.recent_active = True
            pr.is_learner = nid in self.conf.learners
            self.progress[nid] = pr

    # -- input: ticks -----------------------------------------------------
    def tick(self) -> None:
        self._tick()

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.promotable() and self.election_elapsed >= self.randomized_election_timeout:
            self.election_elapsed = 0
            self.hup()

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        for nid, pr in self.progress.items():
            if pr.state is ProgressState.SNAPSHOT and nid != self.id:
                pr.snapshot_elapsed += 1
                if pr.snapshot_elapsed >= self.cfg.election_tick:
                    pr.become_probe()  # the snapshot was probably lost: find out again
        if self.election_elapsed >= self.cfg.election_tick:
            self.election_elapsed = 0
            if self.cfg.check_quorum and not self._quorum_active():
                # CheckQuorum: a leader cut off from a quorum steps down, so that
                # clients stop writing to it and its lease stops shielding it.
                self.become_follower(self.term, None)
                return
            for nid, pr in self.progress.items():
                pr.recent_active = nid == self.id
            self.lead_transferee = None  # a transfer not done in an election timeout failed
        if self.role is Role.LEADER and self.heartbeat_elapsed >= self.cfg.heartbeat_tick:
            self.heartbeat_elapsed = 0
            self._bcast_heartbeat()

    def _quorum_active(self) -> bool:
        voters = self.conf.voters
        active = sum(
            1
            for nid in voters
            if nid == self.id or (nid in self.progress and self.progress[nid].recent_active)
        )
        return active >= _quorum(len(voters))

    # -- elections --------------------------------------------------------
    def hup(self, *, transfer: bool = False) -> None:
        """Start an election now (as if the election timeout had passed)."""
        if self.role is Role.LEADER or not self.promotable():
            return
        if transfer:
            self._campaign(_Campaign.TRANSFER)
        elif self.cfg.pre_vote:
            self._campaign(_Campaign.PRE_ELECTION)
        else:
            self._campaign(_Campaign.ELECTION)

    def _campaign(self, kind: _Campaign) -> None:
        if kind is _Campaign.PRE_ELECTION:
            self.become_pre_candidate()
            vote_type, term = MessageType.PRE_VOTE, self.term + 1
        else:
            self.become_candidate()
            vote_type, term = MessageType.VOTE, self.term
        if self._poll(self.id, granted=True) is _Poll.WON:
            # A single-voter configuration: we are the quorum.
            if kind is _Campaign.PRE_ELECTION:
                self._campaign(_Campaign.ELECTION)
            else:
                self.become_leader()
            return
        context = CAMPAIGN_TRANSFER if kind is _Campaign.TRANSFER else b""
        last_index, last_term = self.log.last_index(), self.log.last_term()
        for nid in sorted(self.conf.voters):
            if nid != self.id:
                self._send(
                    Message(
                        type=vote_type,
                        to=nid,
                        frm=self.id,
                        term=term,
                        index=last_index,
                        log_term=last_term,
                        context=context,
                    )
                )

    def _poll(self, nid: NodeId, *, granted: bool) -> _Poll:
        """Record one answer (the first from each voter counts) and tally the election."""
        self.votes.setdefault(nid, granted)
        voters = self.conf.voters
        yes = sum(1 for v in voters if self.votes.get(v) is True)
        no = sum(1 for v in voters if self.votes.get(v) is False)
        q = _quorum(len(voters))
        if yes >= q:
            return _Poll.WON
        if no > len(voters) - q:
            return _Poll.LOST
        return _Poll.PENDING

    # -- input: messages --------------------------------------------------
    def step(self, m: Message) -> None:
        if m.to != self.id:
            return
        if m.term > self.term:
            if m.type in (MessageType.VOTE, MessageType.PRE_VOTE):
                forced = m.context == CAMPAIGN_TRANSFER
                in_lease = (
                    self.cfg.check_quorum
                    and self.lead is not None
                    and self.election_elapsed < self.cfg.election_tick
                )
                if in_lease and not forced:
                    # We heard from a leader within the minimum election timeout:
                    # whoever asks is out of touch, not the leader (thesis 4.2.3).
                    return
            if m.type is MessageType.PRE_VOTE:
                pass  # never change our term for a pre-vote
            elif m.type is MessageType.PRE_VOTE_RESP and not m.reject:
                pass  # the future term of our pre-election; we take it when we campaign
            elif m.type in _FROM_LEADER:
                self.become_follower(m.term, m.frm)
            else:
                self.become_follower(m.term, None)
        elif m.term < self.term:
            if (self.cfg.check_quorum or self.cfg.pre_vote) and m.type in (
                MessageType.APPEND,
                MessageType.HEARTBEAT,
            ):
                # A stale leader (e.g. healed from a partition) would otherwise never
                # learn the new term: with PreVote nobody else raises terms to reach it.
                self._send(
                    Message(type=MessageType.APPEND_RESP, to=m.frm, frm=self.id, term=self.term)
                )
            elif m.type is MessageType.PRE_VOTE:
                self._send(
                    Message(
                        type=MessageType.PRE_VOTE_RESP,
                        to=m.frm,
                        frm=self.id,
                        term=self.term,
                        reject=True,
                    )
                )
            return

        if m.type in (MessageType.VOTE, MessageType.PRE_VOTE):
            self._handle_vote_request(m)
        else:
            self._step_role(m)

    def _handle_vote_request(self, m: Message) -> None:
        resp_type = (
            MessageType.VOTE_RESP if m.type is MessageType.VOTE else MessageType.PRE_VOTE_RESP
        )
        can_vote = (
            self.vote == m.frm
            or (self.vote is None and self.lead is None)
            or (m.type is MessageType.PRE_VOTE and m.term > self.term)
        )
        # A node that lost its state may have voted in this term already: it abstains.
        if can_vote and not self.recovering and self.log.is_up_to_date(m.index, m.log_term):
            # Granting answers in the candidate's term, so its tally counts it.
            self._send(Message(type=resp_type, to=m.frm, frm=self.id, term=m.term))
            if m.type is MessageType.VOTE:
                self.election_elapsed = 0
                self.vote = m.frm  # persisted with the next Ready, before this reply leaves
        else:
            self._send(Message(type=resp_type, to=m.frm, frm=self.id, term=self.term, reject=True))

    def _step_follower(self, m: Message) -> None:
        if m.type in _FROM_LEADER:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_from_leader(m)
        elif m.type is MessageType.TIMEOUT_NOW:
            # The leader hands over to us: campaign at once, skipping the pre-vote
            # and the lease (the leader itself asked for it).
            self.hup(transfer=True)

    def _step_candidate(self, m: Message) -> None:
        if m.type in _FROM_LEADER:
            # Someone won this term (same term, else step() made us follower already).
            self.become_follower(m.term, m.frm)
            self._handle_from_leader(m)
            return
        expected = (
            MessageType.PRE_VOTE_RESP if self.role is Role.PRE_CANDIDATE else MessageType.VOTE_RESP
        )
        if m.type is not expected:
            return
        result = self._poll(m.frm, granted=not m.reject)
        if result is _Poll.WON:
            if self.role is Role.PRE_CANDIDATE:
                self._campaign(_Campaign.ELECTION)
            else:
                self.become_leader()
                self._bcast_append()
        elif result is _Poll.LOST:
            self.become_follower(self.term, None)

    def _handle_from_leader(self, m: Message) -> None:
        if self.recovering:
            target = m.snapshot.meta.index if m.snapshot is not None else m.commit
            self.recover_to = max(self.recover_to, target)
        if m.type is MessageType.APPEND:
            self._handle_append(m)
        elif m.type is MessageType.HEARTBEAT:
            self._handle_heartbeat(m)
        else:
            self._handle_snapshot(m)
        if self.recovering and 0 < self.recover_to <= self.log.committed:
            self.recovering = False  # caught up with a leader: a full member again

    def _reply_lost(self, to: NodeId, *, index: int) -> None:
        """Tell the leader our log ends before where it believes (we lost state)."""
        self._send(
            Message(
                type=MessageType.APPEND_RESP,
                to=to,
                frm=self.id,
                term=self.term,
                index=index,
                reject=True,
                reject_hint=self.log.last_index(),
                context=LOST_STATE,
            )
        )

    def _handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self._reply_append(m.frm, index=self.log.committed)
            return
        if self.recovering and m.index > self.log.last_index():
            self._reply_lost(m.frm, index=m.index)
            return
        result = self.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if result is not None:
            last_new, appended = result
            self._on_appended(appended)
            if m.entries or m.context != COMMIT_ONLY:
                self._reply_append(m.frm, index=last_new)
            return
        # Tell the leader where our log may match, a whole term at a time.
        hint_index, hint_term = self.log.find_conflict_by_term(
            min(m.index, self.log.last_index()), m.log_term
        )
        self._send(
            Message(
                type=MessageType.APPEND_RESP,
                to=m.frm,
                frm=self.id,
                term=self.term,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def _reply_append(self, to: NodeId, *, index: int) -> None:
        self._send(
            Message(type=MessageType.APPEND_RESP, to=to, frm=self.id, term=self.term, index=index)
        )

    def _handle_heartbeat(self, m: Message) -> None:
        # The leader sends min(match, commit), never past what we acknowledged, so a
        # commit past our log proves we lost entries we had persisted (a disk that lied,
        # a deleted WAL). Recover as if the store had been lost: abstain from votes
        # until a leader has caught us up again.
        if m.commit > self.log.last_index():
            self.recovering = True
            self.recover_to = max(self.recover_to, m.commit)
            self._reply_lost(m.frm, index=m.commit)
            return
        self.log.commit_to(m.commit)
        self._send(Message(type=MessageType.HEARTBEAT_RESP, to=m.frm, frm=self.id, term=self.term))

    def _handle_snapshot(self, m: Message) -> None:
        snap = m.snapshot
        if snap is not None and self._restore(snap):
            self._reply_append(m.frm, index=self.log.last_index())
        else:
            self._reply_append(m.frm, index=self.log.committed)

    def _restore(self, snap: Snapshot) -> bool:
        meta = snap.meta
        if meta.index <= self.log.committed:
            return False
        if self.log.match_term(meta.index, meta.term):
            # We already have that prefix: just learn that it is committed.
            self.log.commit_to(meta.index)
            return False
        self.log.restore(snap)
        self.conf_history = [(meta.index, meta.conf)]
        self._set_conf(meta.conf)
        return True

    def _step_leader(self, m: Message) -> None:
        pr = self.progress.get(m.frm)
        if pr is None:
            return  # not (or no longer) a member: nothing to track
        if m.type is MessageType.APPEND_RESP:
            pr.recent_active = True
            self._handle_append_resp(m, pr)
        elif m.type is MessageType.HEARTBEAT_RESP:
            pr.recent_active = True
            pr.probe_sent = False
            if pr.state is ProgressState.REPLICATE and pr.inflights.full():
                # The follower is alive but our window is full: appends were probably
                # lost. Free one slot so the next append can reveal the gap.
                pr.inflights.free_first_one()
            if pr.match < self.log.last_index():
                # Behind, as far as we know: maybe its answers were lost, and with nothing
                # new to send no other append would ask again. This one must be answered.
                self._send_append(m.frm, want_answer=True)
        # Votes at our term were answered in step(); other types are stale here.

    def _handle_append_resp(self, m: Message, pr: Progress) -> None:
        if m.reject and m.context == LOST_STATE:
            # Forget what we believed it held; its acknowledgements no longer count.
            pr.forget_match(m.reject_hint)
            self._send_append(m.frm)
            return
        if m.reject:
            next_probe = m.reject_hint
            if m.log_term > 0:
                next_probe, _ = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, next_probe):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self._send_append(m.frm)
            return
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT:
            if pr.match + 1 >= self.log.first_index():
                pr.become_probe()
                pr.become_replicate()
        else:
            pr.inflights.free_le(m.index)
        if self._maybe_commit():
            if self.role is not Role.LEADER:
                return  # committing our own removal made us step down
            self._bcast_append()
        elif was_paused:
            self._send_append(m.frm)
        # Fill the pipeline; bounded by max_inflight and by the log's end.
        while self._send_append(m.frm, send_if_empty=False):
            pass
        if m.frm == self.lead_transferee and pr.match == self.log.last_index():
            self._send_timeout_now(m.frm)

    # -- replication (leader) --------------------------------------------
    def _send(self, m: Message) -> None:
        self.msgs.append(m)

    def _send_append(
        self, to: NodeId, *, send_if_empty: bool = True, want_answer: bool = False
    ) -> bool:
        pr = self.progress[to]
        if to == self.id or pr.is_paused():
            return False
        prev = pr.next - 1
        prev_term = self.log.term(prev)
        entries: list[Entry] | None
        try:
            entries = self.log.entries_from(pr.next, self.cfg.max_size_per_msg)
        except CompactedError:
            entries = None
        if prev_term is None or entries is None:
            # The follower needs entries we compacted: send the snapshot instead.
            snap = self.log.snapshot()
            self._send(
                Message(
                    type=MessageType.SNAPSHOT, to=to, frm=self.id, term=self.term, snapshot=snap
                )
            )
            pr.become_snapshot(snap.meta.index)
            return True
        if not entries and not send_if_empty:
            return False
        self._send(
            Message(
                type=MessageType.APPEND,
                to=to,
                frm=self.id,
                term=self.term,
                index=prev,
                log_term=prev_term,
                entries=tuple(entries),
                commit=self.log.committed,
                # Only news goes unanswered. A probe's answer moves the follower to
                # REPLICATE; ``want_answer`` asks a follower whose answers seem lost for
                # its match again.
                context=COMMIT_ONLY
                if not entries and pr.state is ProgressState.REPLICATE and not want_answer
                else b"",
            )
        )
        pr.sent_entries(entries[-1].index if entries else None)
        return True

    def _bcast_append(self) -> None:
        for nid in self.progress:
            if nid != self.id:
                self._send_append(nid)

    def _bcast_heartbeat(self) -> None:
        for nid, pr in self.progress.items():
            if nid != self.id:
                # Never tell a follower a commit index beyond what it is known to hold.
                commit = min(pr.match, self.log.committed)
                self._send(
                    Message(
                        type=MessageType.HEARTBEAT,
                        to=nid,
                        frm=self.id,
                        term=self.term,
                        commit=commit,
                    )
                )

    def _send_timeout_now(self, to: NodeId) -> None:
        self._send(Message(type=MessageType.TIMEOUT_NOW, to=to, frm=self.id, term=self.term))

    def _maybe_commit(self) -> bool:
        voters = sorted(self.conf.voters)
        if not voters:
            return False
        matches = sorted(
            (self.progress[v].match for v in voters if v in self.progress), reverse=True
        )
        q = _quorum(len(voters))
        if len(matches) < q:
            return False
        index = matches[q - 1]
        # Figure 8: only an entry of the current term is committed by counting.
        if index <= self.log.committed or self.log.term(index) != self.term:
            return False
        self.log.commit_to(index)
        self._after_commit()
        return True

    def _after_commit(self) -> None:
        if self.id not in self.conf.voters and self.pending_conf_index() <= self.log.committed:
            # Our own removal is committed: the new configuration elects without us.
            self.become_follower(self.term, None)

    def _append_entries(self, entries: Sequence[Entry]) -> None:
        self.log.append(entries)
        self._on_appended(entries)
        me = self.progress.get(self.id)
        if me is not None:
            me.maybe_update(self.log.last_index())
        self._maybe_commit()

    # -- membership -------------------------------------------------------
    def _on_appended(self, entries: Sequence[Entry]) -> None:
        """Keep the configuration equal to the newest CONF_CHANGE entry in the log."""
        if not entries:
            return
        first = entries[0].index
        if self.conf_history[-1][0] >= first:
            # A conflicting suffix was replaced: forget configurations it carried.
            self.conf_history = [h for h in self.conf_history if h[0] < first] or self.conf_history[
                :1
            ]
        self._replay_conf(entries)
        self._set_conf(self.conf_history[-1][1])

    def _replay_conf(self, entries: Sequence[Entry]) -> None:
        for e in entries:
            if e.kind is EntryKind.CONF_CHANGE:
                conf = apply_conf_change(self.conf_history[-1][1], ConfChange.decode(e.data))
                self.conf_history.append((e.index, conf))
        self.conf = self.conf_history[-1][1]

    def _set_conf(self, conf: ConfState) -> None:
        self.conf = conf
        if self.role is not Role.LEADER:
            return
        self._rebuild_progress()
        if self.lead_transferee is not None and self.lead_transferee not in conf.voters:
            self.lead_transferee = None

    # -- proposals (leader) ----------------------------------------------
    def _check_can_propose(self) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead)
        if self.id not in self.conf.voters:
            raise NotLeader(None, reason="leader is being removed from the cluster")
        if self.lead_transferee is not None:
            raise LeadershipTransferring(self.lead_transferee)

    def propose(self, datas: Sequence[bytes]) -> range:
        """Append NORMAL entries (one per item) and start replicating them in one go."""
        self._check_can_propose()
        if not datas:
            return range(self.log.last_index() + 1, self.log.last_index() + 1)
        first = self.log.last_index() + 1
        entries = [Entry(term=self.term, index=first + i, data=d) for i, d in enumerate(datas)]
        self._append_entries(entries)
        self._bcast_append()
        return range(first, first + len(entries))

    def propose_conf_change(self, cc: ConfChange) -> int:
        self._check_can_propose()
        pending = self.pending_conf_index()
        if pending > self.log.committed:
            raise ConfChangePending(pending)
        if self.log.committed < self.term_start_index:
            raise ConfChangeTooEarly(self.term_start_index, self.log.committed)
        check_conf_change(self.conf, cc)
        index = self.log.last_index() + 1
        entry = Entry(term=self.term, index=index, kind=EntryKind.CONF_CHANGE, data=cc.encode())
        self._append_entries([entry])
        self._bcast_append()
        return index

    def transfer_leadership(self, to: NodeId) -> None:
        if self.role is not Role.LEADER:
            raise NotLeader(self.lead)
        if to == self.id:
            return
        if to not in self.conf.voters or to not in self.progress:
            raise InvalidTransfer(f"{to} is not a voter")
        if self.lead_transferee == to:
            return
        self.lead_transferee = to
        self.election_elapsed = 0  # the transfer must finish within one election timeout
        if self.progress[to].match == self.log.last_index():
            self._send_timeout_now(to)
        else:
            self._send_append(to)  # catch it up first; TIMEOUT_NOW follows the ack

    def report_snapshot(self, to: NodeId, *, failed: bool) -> None:
        """The transport tells us a snapshot could not be delivered (or was)."""
        pr = self.progress.get(to)
        if self.role is not Role.LEADER or pr is None or pr.state is not ProgressState.SNAPSHOT:
            return
        if failed:
            pr.pending_snapshot = 0
        pr.become_probe()
        pr.probe_sent = True  # wait for the follower's answer (or a heartbeat) before more
