"""The leader's membership policy (mesh.node.membership): examples, properties, simulation.

The policy is a pure function, so it is tested three ways: one example per rule,
hypothesis properties over arbitrary views (at most one valid change, never the
leader, never below a quorum, promotions by preference), and the hostile Raft
simulator of ``mesh.raft.sim`` with the policy in charge of membership: over many
seeds of crashes, partitions and loss, no committed entry is lost, no two
changes are ever pending, and once faults stop the voters return to the target.
"""

from __future__ import annotations

import collections
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.node.membership import (
    ROLE_PREFERENCE,
    MembershipSettings,
    MeshView,
    PeerView,
    next_change,
    quorum,
    reachable,
    target_of,
    voter_target,
)
from mesh.raft.confchange import ConfChange, ConfChangeType, apply_conf_change, check_conf_change
from mesh.raft.sim import ELECTION_TICK, SimNode, Simulation, Violation
from mesh.raft.storage import MemoryStorage, bootstrap
from mesh.raft.types import ConfState

S = MembershipSettings(voter_dead_after_s=10.0, reachable_within_s=1.0, promote_lag_entries=5)
ALIVE = 0.1
DEAD = 60.0


def view(
    voters: set[str],
    learners: set[str] = frozenset(),  # type: ignore[assignment]
    *,
    leader: str = "n1",
    silent: dict[str, float] | None = None,
    roles: dict[str, str] | None = None,
    match: dict[str, int] | None = None,
    others: set[str] = frozenset(),  # type: ignore[assignment]
    last_index: int = 100,
    pending: bool = False,
) -> MeshView:
    silent = silent or {}
    roles = roles or {}
    match = match or {}
    everyone = (voters | learners | others) - {leader}
    return MeshView(
        leader=leader,
        conf=ConfState(voters=frozenset(voters), learners=frozenset(learners)),
        last_index=last_index,
        pending=pending,
        peers={
            n: PeerView(
                role=roles.get(n, "terminal"),
                silent_s=silent.get(n, ALIVE),
                match=match.get(n, last_index if n in voters | learners else 0),
            )
            for n in everyone
        },
    )


def change(kind: ConfChangeType, node: str) -> ConfChange:
    return ConfChange(type=kind, node_id=node)


# -- one example per rule ----------------------------------------------------------


def test_the_target_is_three_or_five_from_seven_devices() -> None:
    assert [voter_target(n) for n in range(1, 10)] == [1, 2, 3, 3, 3, 3, 5, 5, 5]
    v = view({"n1", "n2", "n3"}, {"n4", "n5", "n6", "n7"})
    assert target_of(v, S) == 5
    assert target_of(v, MembershipSettings(target=3)) == 3


def test_a_steady_mesh_at_its_target_changes_nothing() -> None:
    assert next_change(view({"n1", "n2", "n3"}, {"n4"}), S) is None


def test_nothing_while_a_change_is_pending() -> None:
    v = view({"n1", "n2"}, {"n3"}, pending=True)
    assert next_change(v, S) is None


def test_a_dead_voter_is_removed_while_a_quorum_stands() -> None:
    v = view({"n1", "n2", "n3"}, {"n4"}, silent={"n3": DEAD})
    assert next_change(v, S) == change(ConfChangeType.REMOVE, "n3")


def test_the_longest_silent_voter_goes_first() -> None:
    v = view({"n1", "n2", "n3", "n4", "n5"}, silent={"n3": DEAD, "n5": 2 * DEAD})
    assert next_change(v, S) == change(ConfChangeType.REMOVE, "n5")


def test_no_change_at_all_without_a_quorum() -> None:
    v = view({"n1", "n2", "n3"}, {"n4"}, silent={"n2": DEAD, "n3": DEAD})
    assert next_change(v, S) is None


def test_a_voter_silent_but_not_yet_dead_stays() -> None:
    v = view({"n1", "n2", "n3"}, {"n4"}, silent={"n3": 5.0})
    assert next_change(v, S) is None


def test_the_leader_is_never_removed_even_as_a_surplus_voter() -> None:
    v = view({"n1", "n2", "n3", "n4"}, roles={"n1": "handheld"})
    assert next_change(v, MembershipSettings(target=3)) == change(ConfChangeType.REMOVE, "n4")


def test_below_target_the_best_caught_up_learner_is_promoted() -> None:
    roles = {"n3": "handheld", "n4": "kds", "n5": "hub", "n6": "terminal"}
    v = view({"n1", "n2"}, {"n3", "n4", "n5", "n6"}, roles=roles)
    assert next_change(v, S) == change(ConfChangeType.PROMOTE, "n5")
    lagging = view({"n1", "n2"}, {"n3", "n4", "n5", "n6"}, roles=roles, match={"n5": 10})
    assert next_change(lagging, S) == change(ConfChangeType.PROMOTE, "n6")
    # A learner that never acknowledged anything is not caught up, however short the log.
    fresh = view({"n1", "n2"}, {"n5"}, roles=roles, match={"n5": 0}, last_index=3)
    assert next_change(fresh, S) is None
    away = view({"n1", "n2"}, {"n3", "n4", "n5", "n6"}, roles=roles, silent={"n5": 3.0})
    assert next_change(away, S) == change(ConfChangeType.PROMOTE, "n6")


def test_a_replaced_device_that_returns_rejoins_as_a_learner() -> None:
    v = view({"n1", "n2", "n3"}, {"n4"}, others={"n5"})
    assert next_change(v, S) == change(ConfChangeType.ADD_LEARNER, "n5")
    gone = view({"n1", "n2", "n3"}, {"n4"}, others={"n5"}, silent={"n5": DEAD})
    assert next_change(gone, S) is None


def test_promotion_comes_before_re_adding() -> None:
    v = view({"n1", "n2"}, {"n3"}, others={"n4"})
    assert next_change(v, S) == change(ConfChangeType.PROMOTE, "n3")


def test_a_surplus_voter_is_the_least_preferred_reachable_one() -> None:
    roles = {"n2": "hub", "n3": "handheld", "n4": "kds"}
    v = view({"n1", "n2", "n3", "n4"}, roles=roles)
    assert next_change(v, MembershipSettings(target=3)) == change(ConfChangeType.REMOVE, "n3")


def test_replacing_two_dead_voters_of_seven_one_change_at_a_time() -> None:
    """The process test's story, played on the policy alone."""
    conf = ConfState(
        voters=frozenset({"n1", "n2", "n3", "n4", "n5"}), learners=frozenset({"n6", "n7"})
    )
    silent = {"n2": DEAD, "n3": DEAD}
    steps = []
    for _ in range(10):
        v = MeshView(
            leader="n1",
            conf=conf,
            last_index=50,
            pending=False,
            peers={
                n: PeerView(role="terminal", silent_s=silent.get(n, ALIVE), match=50)
                for n in ["n2", "n3", "n4", "n5", "n6", "n7"]
            },
        )
        cc = next_change(v, S)
        if cc is None:
            break
        steps.append((cc.type, cc.node_id))
        conf = apply_conf_change(conf, cc)
    assert steps == [
        (ConfChangeType.REMOVE, "n2"),
        (ConfChangeType.REMOVE, "n3"),
        (ConfChangeType.PROMOTE, "n6"),
        (ConfChangeType.PROMOTE, "n7"),
    ]
    assert conf.voters == {"n1", "n4", "n5", "n6", "n7"}


# -- properties over arbitrary views -----------------------------------------------

NAMES = [f"d{i}" for i in range(1, 10)]
silences = st.one_of(
    st.floats(min_value=0, max_value=0.99),  # reachable
    st.floats(min_value=1.0, max_value=20.0),  # neither reachable nor dead
    st.floats(min_value=10.01, max_value=1e6),
    st.just(math.inf),  # never heard
)


@st.composite
def views(draw: st.DrawFn) -> tuple[MeshView, MembershipSettings]:
    enrolled = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=9, unique=True))
    leader = enrolled[0]
    kinds = draw(st.lists(st.sampled_from(["member", "voter", "learner", "other"]),
                          min_size=len(enrolled), max_size=len(enrolled)))  # fmt: skip
    voters = {leader} | {n for n, k in zip(enrolled, kinds, strict=True) if k == "voter"}
    learners = {n for n, k in zip(enrolled, kinds, strict=True) if k == "learner"} - voters
    last_index = draw(st.integers(min_value=0, max_value=1000))
    peers = {}
    for n in enrolled[1:]:
        member = n in voters or n in learners
        peers[n] = PeerView(
            role=draw(st.sampled_from([*ROLE_PREFERENCE, "unknown"])),
            silent_s=draw(silences),
            match=draw(st.integers(min_value=0, max_value=last_index)) if member else 0,
        )
    settings_ = MembershipSettings(
        target=draw(st.none() | st.integers(min_value=1, max_value=9)),
        voter_dead_after_s=10.0,
        reachable_within_s=1.0,
        promote_lag_entries=draw(st.integers(min_value=0, max_value=100)),
    )
    v = MeshView(
        leader=leader,
        conf=ConfState(voters=frozenset(voters), learners=frozenset(learners)),
        last_index=last_index,
        pending=draw(st.booleans()),
        peers=peers,
    )
    return v, settings_


def quorum_stands(v: MeshView, s: MembershipSettings, conf: ConfState) -> bool:
    up = sum(1 for n in conf.voters if reachable(v, n, s))
    return bool(conf.voters) and up >= quorum(len(conf.voters))


@settings(max_examples=400, deadline=None)
@given(views())
def test_any_change_is_valid_single_and_keeps_a_reachable_quorum(
    case: tuple[MeshView, MembershipSettings],
) -> None:
    v, s = case
    cc = next_change(v, s)
    if cc is None:
        return
    assert not v.pending
    check_conf_change(v.conf, cc)  # raises if Raft would refuse it
    assert cc.node_id != v.leader
    after = apply_conf_change(v.conf, cc)
    assert quorum_stands(v, s, v.conf) and quorum_stands(v, s, after)
    target = target_of(v, s)
    peer = v.peers[cc.node_id]
    if cc.type is ConfChangeType.PROMOTE:
        assert len(v.conf.voters) < target
        assert peer.silent_s < s.reachable_within_s
        assert peer.match > 0 and peer.match >= v.last_index - s.promote_lag_entries
    elif cc.type is ConfChangeType.ADD_LEARNER:
        assert peer.silent_s < s.reachable_within_s
    elif cc.type is ConfChangeType.ADD_VOTER:
        pytest.fail("a device never joins straight as a voter")
    else:
        assert cc.node_id in v.conf.voters  # learners are never dropped by the policy
        dead = peer.silent_s > s.voter_dead_after_s
        assert dead or len(v.conf.voters) > target


@settings(max_examples=300, deadline=None)
@given(views())
def test_a_promotion_picks_the_most_preferred_ready_learner(
    case: tuple[MeshView, MembershipSettings],
) -> None:
    v, s = case
    cc = next_change(v, s)
    if cc is None or cc.type is not ConfChangeType.PROMOTE:
        return
    ready = [
        n
        for n in v.conf.learners
        if v.peers[n].silent_s < s.reachable_within_s
        and 0 < v.peers[n].match >= v.last_index - s.promote_lag_entries
    ]

    def rank(n: str) -> tuple[int, str]:
        return (ROLE_PREFERENCE.get(v.peers[n].role, 99), n)

    assert rank(cc.node_id) == min(rank(n) for n in ready)


@settings(max_examples=200, deadline=None)
@given(views())
def test_with_facts_frozen_the_policy_reaches_a_fixed_point(
    case: tuple[MeshView, MembershipSettings],
) -> None:
    """Applying its own decisions to an unchanging world, the policy stops (no flapping)."""
    v, s = case
    conf = v.conf
    for _ in range(4 * len(NAMES)):
        members = conf.voters | conf.learners
        peers = {
            n: PeerView(role=p.role, silent_s=p.silent_s, match=p.match if n in members else 0)
            for n, p in v.peers.items()
        }
        now = MeshView(
            leader=v.leader, conf=conf, last_index=v.last_index, pending=False, peers=peers
        )
        cc = next_change(now, s)
        if cc is None:
            return
        conf = apply_conf_change(conf, cc)
    pytest.fail(f"the policy keeps changing {conf}")


# -- the hostile simulator with the policy in charge ------------------------------

SETTINGS_TICKS = MembershipSettings(
    voter_dead_after_s=2 * ELECTION_TICK,  # in ticks, here
    reachable_within_s=ELECTION_TICK,
    promote_lag_entries=5,
)


class PolicySimulation(Simulation):
    """``mesh.raft.sim`` where membership changes come from the policy, driven every tick.

    Time is counted in ticks; a leader "hears" a peer when one of its messages is
    delivered to it. Only the enrolled devices exist (the site's founding ones),
    voters as ``site init`` chooses them, the others learners.
    """

    def __init__(self, seed: int, nodes: int, steps: int) -> None:
        super().__init__(seed, nodes, steps)
        self.spares = []  # no device joins that is not enrolled
        n_voters = voter_target(len(self.ids))
        voters, learners = self.ids[:n_voters], self.ids[n_voters:]
        self.nodes = {}
        for nid in self.ids:
            storage = MemoryStorage()
            bootstrap(storage, voters, learners)
            self._add_node(nid, storage)
        self.roles = {nid: self.rng.choice(list(ROLE_PREFERENCE)) for nid in self.ids}
        self.clock = 0
        self.heard: dict[tuple[str, str], int] = {}
        self.changes: list[str] = []

    def _start(self, node: SimNode) -> None:
        super()._start(node)
        self.started = getattr(self, "started", {})
        self.started[node.id] = getattr(self, "clock", 0)

    def _deliver_one(self, i: int) -> None:
        m = self.network[i]
        before = self.stats.delivered
        super()._deliver_one(i)
        if self.stats.delivered > before:
            self.heard[(m.to, m.frm)] = self.clock

    def _view(self, leader: SimNode) -> MeshView:
        assert leader.raw is not None
        r = leader.raw.raft
        peers = {}
        for nid in self.ids:
            if nid == leader.id:
                continue
            pr = r.progress.get(nid)
            # Never heard since the leader's process started: silent since then (as the node).
            heard = self.heard.get((leader.id, nid), self.started.get(leader.id, 0))
            peers[nid] = PeerView(
                role=self.roles[nid],
                silent_s=float(self.clock - heard),
                match=pr.match if pr is not None else 0,
            )
        return MeshView(
            leader=leader.id,
            conf=r.conf,
            last_index=r.log.last_index(),
            pending=r.pending_conf_index() > r.log.committed,
            peers=peers,
        )

    def manage(self) -> None:
        for leader in self.leaders():
            assert leader.raw is not None
            v = self._view(leader)
            cc = next_change(v, SETTINGS_TICKS)
            if cc is None:
                continue
            if v.pending:
                raise Violation("one pending conf change", f"policy proposed {cc} while pending")
            try:
                leader.raw.propose_conf_change(cc)
            except Exception as exc:  # ConfChangeTooEarly, a transfer: retried next tick
                self.log(f"policy {cc.type.name} {cc.node_id} refused: {exc}")
                continue
            self.stats.conf_changes += 1
            self.changes.append(f"{cc.type.name} {cc.node_id}")
            self.log(f"policy {cc.type.name} {cc.node_id} on {leader.id}")

    def _do_tick(self) -> None:
        super()._do_tick()
        self.clock += 1
        self.manage()

    def _do_conf(self) -> None:
        self.manage()

    def settle_membership(self, rounds: int = 40 * ELECTION_TICK) -> ConfState:
        """Faults off (after check_liveness): the policy brings the voters back to target."""
        up = [n for n in self.ids if n not in self.kept_down]
        want = min(voter_target(len(self.ids)), len(up))
        conf = ConfState()
        for _ in range(rounds):
            self._round()
            self.clock += 1
            self.manage()
            leaders = self.leaders()
            if not leaders:
                continue
            assert leaders[0].raw is not None
            r = leaders[0].raw.raft
            conf = r.conf
            settled = r.pending_conf_index() <= r.log.committed
            if settled and len(conf.voters) == want and conf.voters <= set(up):
                return conf
        raise Violation("membership liveness", f"voters {sorted(conf.voters)}, want {want} of {up}")


def _run_policy_seed(seed: int, nodes: int, steps: int) -> PolicySimulation:
    sim = PolicySimulation(seed, nodes, steps)
    try:
        sim.run()
        sim.settle_membership()
    except Violation as v:
        trace = "\n".join(list(sim.trace)[-25:])
        pytest.fail(f"seed {seed} ({nodes} nodes) broke {v.prop}: {v.detail}\n{trace}")
    return sim


@pytest.mark.parametrize("nodes", [4, 5, 7])
def test_the_policy_in_the_hostile_simulator_stays_safe_and_restores_the_voters(
    nodes: int,
) -> None:
    kinds: collections.Counter[str] = collections.Counter()
    for seed in range(60):
        sim = _run_policy_seed(seed, nodes, 400)
        kinds.update(c.split()[0] for c in sim.changes)
    # The histories must exercise the policy: dead voters removed, learners promoted.
    # (60 seeds: with 30, a change to the core's messages left 4 of each at 4 nodes.)
    assert kinds["REMOVE"] >= 5 and kinds["PROMOTE"] >= 5, kinds


def test_a_dead_voter_is_replaced_in_the_simulator() -> None:
    """Fault-free but for one voter that dies for good: it is removed, a learner promoted."""
    sim = PolicySimulation(7, 7, 0)
    sim.faults = False
    for _ in range(3 * ELECTION_TICK):
        sim._round()
        sim.clock += 1
        sim.manage()
    (leader,) = sim.leaders()
    assert leader.raw is not None
    victim = sorted(leader.raw.raft.conf.voters - {leader.id})[0]
    sim._crash(sim.nodes[victim], "dies for good")
    sim.kept_down = {victim}
    conf = sim.settle_membership()
    assert victim not in conf.voters | conf.learners
    assert len(conf.voters) == 5
    assert f"REMOVE {victim}" in sim.changes
    # It comes back: re-added as a learner, and stays one (the voters are at target).
    sim.kept_down = set()
    sim._start(sim.nodes[victim])
    for _ in range(10 * ELECTION_TICK):
        sim._round()
        sim.clock += 1
        sim.manage()
    (leader,) = sim.leaders()
    assert leader.raw is not None
    assert victim in leader.raw.raft.conf.learners
    assert len(leader.raw.raft.conf.voters) == 5


def test_seeds_replay_exactly() -> None:
    a = _run_policy_seed(3, 5, 300)
    b = _run_policy_seed(3, 5, 300)
    assert a.changes == b.changes and list(a.trace) == list(b.trace)


def test_a_revoked_member_is_removed_first_learner_or_voter() -> None:
    v = view({"n1", "n2", "n3"}, {"n4"}, silent={"n3": DEAD})
    revoked = MeshView(
        leader=v.leader,
        conf=v.conf,
        last_index=v.last_index,
        pending=False,
        peers={n: p for n, p in v.peers.items() if n != "n4"},
        revoked=frozenset({"n4"}),
    )
    assert next_change(revoked, S) == change(ConfChangeType.REMOVE, "n4")
    voter = MeshView(
        leader=v.leader,
        conf=v.conf,
        last_index=v.last_index,
        pending=False,
        peers={n: p for n, p in v.peers.items() if n != "n2"},
        revoked=frozenset({"n2"}),
    )
    # n2 revoked (so unheard) and n3 dead: one voter of three reachable, nothing could commit.
    assert next_change(voter, S) is None
