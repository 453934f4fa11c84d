"""One device's node on one asyncio loop: tick, receive, persist, send, apply, answer.

The loop never blocks on the network: the transport queues, Raft retries. The
one blocking call is the store's fsync, done once per batch of proposals (the
pump runs once per loop iteration, so every command that arrived meanwhile
shares one append and one fsync: group commit).

A command is acknowledged only once it is committed and applied. On the leader
that is when the ledger applied it; a follower forwards the command to the
leader and, once the leader acknowledged it, waits until it has applied the
same index itself, so a client that reads from its own node right after a
write sees it. Retries reuse the command's id: the ledger applies an id once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import secrets
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.ledger.check_ids import temp_id_counter
from mesh.ledger.commands import MAX_ID, command_id_of
from mesh.ledger.entry import Outcome, encode_payload
from mesh.ledger.state import LedgerState, json_copy
from mesh.net import schema
from mesh.net.control import ControlServer, serving
from mesh.net.discovery import Discovery, DiscoveryEvent, NameTaken
from mesh.net.discovery import PeerSeen as DiscoveredPeer
from mesh.net.guest import GuestDoor
from mesh.net.keys import (
    SECRET_FILE,
    KeyFileError,
    KeyPair,
    MissingKeyError,
    load_or_create_keypair,
)
from mesh.net.transport import CannotListen, PeerInfo, Transport
from mesh.node import background, constants, control_ops, heap, membership, roster
from mesh.node import config as cfg
from mesh.node.admission import Admission
from mesh.node.check_counter import LOST_FILE_GAP, CheckCounter
from mesh.node.errors import error_reply
from mesh.node.pins import Lockout
from mesh.node.replica import Applied, Replica, WritePlan
from mesh.node.store import SQLiteStorage, StoreCorrupt
from mesh.node.watchdog import LoopWatchdog
from mesh.node.write_placement import WritePlacement
from mesh.raft.confchange import ConfChange
from mesh.raft.errors import ProposalRefused
from mesh.raft.raft import Role
from mesh.raft.types import Message, MessageType
from mesh.sync.agent import SyncAgent

log = logging.getLogger(__name__)

Listener = Callable[[int], None]
"""Called on the loop with the new applied index after each batch of applied entries."""


PROPOSERS_KEPT = 4_096  # forwarded proposals a leader can name again to their follower
TOKEN_MARK = "/"  # in a forward's request id, between the command id and the submit's token
TOKEN_BYTES = 4  # a submit's token: random, as hex
BAD_ID = f"a command's id is a string of 1 to {MAX_ID} characters (or left out: one is made)"


def forward_req_id(cid: str, token: str) -> str:
    """The id of the forwards of the submit with ``token`` of command ``cid``."""
    return f"{cid}{TOKEN_MARK}{token}"


def submit_token(req_id: str, cid: str) -> str | None:
    """The token of the submit that sent forward ``req_id`` of command ``cid``."""
    head = cid + TOKEN_MARK
    return req_id[len(head) :] if req_id.startswith(head) and len(req_id) > len(head) else None


class LeadershipLost(Exception):
    """This node stopped being leader before the command was applied; retry elsewhere."""


@dataclass(frozen=True, slots=True)
class PeerSeen:
    status: schema.NodeStatus
    at: float  # monotonic seconds


@dataclass(slots=True)
class Forwarding:
    """One submit, across the forwards and the local proposals it may take.

    Every entry names the submit that wrote it (its writer: the submit's token, sent
    with the forward as part of the request id). When this node applies the id's
    first entry, the outcome is this submit's own if the writer is our token, else
    it is of the same id sent before (a replay), and is answered marked as a
    duplicate; whichever leader proposed it, whatever word of its index was lost.
    When the writer is not known here (the outcome came in a snapshot, or the entry
    was written before entries named writers), the indexes the leader said it
    proposed the command at for us (or, leading here, we saw) decide instead.
    That holds however the outcome arrives: an earlier entry of the id applied while
    ours waits (a new leader's backlog) answers our waiter too, and a replay that
    reaches the leader while the first submit's entry is still being written joins
    that entry's waiter.
    """

    cid: str
    applied: asyncio.Future[Applied]  # this node's first apply of the command id
    token: str = field(default_factory=lambda: secrets.token_hex(TOKEN_BYTES))
    proposed: set[int] = field(default_factory=set)

    @property
    def req_id(self) -> str:
        """The id of this submit's forwards: the command id, then its token."""
        return forward_req_id(self.cid, self.token)

    def note(self, reply: asyncio.Future[schema.ForwardReply]) -> None:
        """Remember the index the leader proposed our command at, if that is its reply."""
        if reply.done() and not reply.cancelled():
            said = reply.result()
            if said.ok and said.outcome is None:
                self.proposed.add(said.index)  # proposed for us: our apply answers

    def written_by(self, outcome: Outcome) -> str | None:
        """The token of the submit that wrote ``outcome``'s entry, when known here."""
        if self.applied.done() and not self.applied.cancelled():
            first = self.applied.result()
            if first.outcome is not None and first.outcome.index == outcome.index:
                return first.writer
        return None

    def label(self, outcome: Outcome) -> Outcome:
        writer = self.written_by(outcome)
        mine = outcome.index in self.proposed if writer is None else writer == self.token
        return dataclasses.replace(outcome, duplicate=not mine)


def outcome_reply(outcome: Outcome) -> dict[str, Any]:
    """The ``ctl submit --json`` shape of a ledger outcome."""
    if outcome.ok:
        reply: dict[str, Any] = {"ok": True, "index": outcome.index, "outcome": outcome.result}
    else:
        assert outcome.error is not None
        reply = {"ok": False, "index": outcome.index, "error": outcome.error.to_dict()}
    if outcome.duplicate:
        reply["duplicate"] = True
    return reply


def compute_dot(*, in_quorum: bool, cloud: str, backlog: int) -> str:
    """The status dot of DESIGN.md from what this node knows."""
    if not in_quorum:
        return "cut_off"
    if cloud != "up":
        return "red"
    return "amber" if backlog else "green"


class Node:
    def __init__(
        self,
        data_dir: Path,
        *,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        freeze_heap: bool = False,
    ) -> None:
        """``freeze_heap``: keep full collections short by freezing the heap as the
        ledger grows (mesh/node/heap.py); only for a process that is just a node."""
        self.data_dir = data_dir
        self.config = cfg.load(data_dir)
        self.node_id = self.config.node
        self._wall = wall_clock
        self._rng = rng or random.Random()
        self.keys: KeyPair | None = None
        self.replica: Replica | None = None
        self.transport: Transport | None = None
        self.control: ControlServer | None = None
        self.discovery: Discovery | None = None
        self.counter: CheckCounter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()
        self.fatal = asyncio.Event()  # set when one of the node's loops died of a bug
        self._wake = asyncio.Event()
        self._writing: asyncio.Future[None] | None = None  # the fsync in flight, if any
        self._placement = WritePlacement(
            slow_s=constants.WRITE_SLOW_S, thread_for_s=constants.WRITE_THREAD_FOR_S
        )
        self._snapshotting: asyncio.Task[None] | None = None  # a snapshot being encoded
        self._snapshot_made: tuple[int, bytes] | None = None  # one encoded, to be stored
        self.watchdog = LoopWatchdog(constants.LOOP_STALL_WARN_S)
        self.heap = heap.HeapKeeper(constants.GC_FREEZE_EVERY) if freeze_heap else None
        heap.full_collections()  # counted for `ctl status` either way
        self._hash_job: tuple[dict[str, Any], asyncio.Future[str]] | None = None
        self._snapshot_not_before = 0.0  # monotonic s: a failed encoding waits before the next
        # (command id, command, the token of the submit that wrote it) to propose
        self._queued: list[tuple[str, dict[str, Any], str | None]] = []
        self._waiters: dict[str, asyncio.Future[Outcome]] = {}  # command id -> its outcome
        self._forwards: dict[str, asyncio.Future[schema.ForwardReply]] = {}  # by request id
        # Command id -> resolved when this node applies it: a forwarded command is
        # answered from the node's own apply (see ``_forward``).
        self._applied_watch: dict[str, asyncio.Future[Applied]] = {}
        self._submitting: dict[str, int] = {}  # command id -> its submits in flight here
        # Command id -> (the follower that forwarded it, its request id): told the
        # entry's index on proposal.
        self._proposed_for: dict[str, tuple[str, str]] = {}
        # Command id -> the submit here that queued it, told the entry's index likewise.
        self._proposed_here: dict[str, Forwarding] = {}
        # Command id -> (the follower it was proposed for, its request id, the index),
        # the newest PROPOSERS_KEPT: a follower whose word of the index was lost asks again.
        self._proposer: dict[str, tuple[str, str, int]] = {}
        self._apply_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._listeners: list[Listener] = []
        self._last_stamp = 0
        self._last_heard: dict[str, float] = {}
        self._peer_status: dict[str, PeerSeen] = {}
        self._was_leader = False
        self._known_leader: str | None = None  # the leader as of the last _check_role
        # Done (and replaced) when that changes; a future rather than an Event, so a
        # forward waits on it without a task of its own.
        self._leader_news: asyncio.Future[None] | None = None
        self._roster_mark = (
            -1,
            -1,
        )  # the roster state the transport enforces (Replica.roster_mark)
        self.admission = Admission(self)
        self.guest_door: GuestDoor | None = None
        self.lockout = Lockout()  # wrong PINs typed on this device
        self.cloud_state: dict[str, Any] = {
            "cloud": "unknown" if self.config.cloud else "none",
            "backlog": 0,
            "oldest_ms": None,
            "last_sync_ms": None,
        }
        self._sync_task: asyncio.Task[None] | None = None
        self.started_at = time.monotonic()
        self._started = False  # start() ran to its end
        self.clock_offset_ms = 0  # a test's (or a technician's) correction of this device's clock
        self._clock_warned = float("-inf")  # monotonic s of the last clock-skew warning

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        c = self.config
        if serving(cfg.control_socket_path(self.data_dir)):
            # Before the store or a socket is touched: two nodes on one data directory
            # would share its log. (A stale socket file from a crash does not answer.)
            raise cfg.ConfigError(f"a node is already running on {self.data_dir}: stop it first")
        ran_before = self._ran_before()
        self.keys = self._load_keys(ran_before)
        store = self._open_store()
        self.replica = Replica(
            node_id=c.node,
            store=store,
            voters=c.voters,
            learners=c.learners,
            rng=self._rng,
            snapshot_every=c.snapshot_every or constants.SNAPSHOT_EVERY,
            lost_marker=self.data_dir / cfg.LOST_MARKER_FILE,
        )
        # A busy day's ledger takes seconds to encode: never on the loop (docs/architecture.md).
        self.replica.snapshots_elsewhere = background.can_fork()
        self._last_stamp = self.replica.ledger.last_time_ms
        if self.heap is not None:
            self.heap.freeze_at_start()  # the code and the restored ledger: never walked again
        counter_file = self.data_dir / cfg.COUNTER_FILE
        try:
            floor = self._counter_floor(ran_before)
            self.counter = CheckCounter(counter_file, c.device_prefix, at_least=floor)
        except ValueError as exc:
            # A torn or emptied file: kept as evidence, and treated as lost (resuming
            # above the log's IDs), rather than a device that cannot start at all.
            aside = counter_file.with_name(f"{counter_file.name}.corrupt-{int(self._wall())}")
            counter_file.rename(aside)
            log.warning("the check ID counter file was corrupt", extra={"error": str(exc)})
            floor = self._counter_floor(ran_before=True)
            self.counter = CheckCounter(counter_file, c.device_prefix, at_least=floor)
        peers = {
            name: PeerInfo(address=p.address, public_key=p.public_key)
            for name, p in self.enrolled().items()
            if p.address
        }
        allowed = {name: p.public_key for name, p in self.enrolled().items()}
        self._roster_mark = self.replica.roster_mark()
        self.transport = Transport(
            node_id=c.node,
            site=c.site,
            bind_addr=c.bind,
            keypair=self.keys,
            peers=peers,
            allowed_keys=allowed,
        )
        try:
            await self.transport.start()
        except CannotListen as exc:
            # A port another program (or a second site's node) took, or an address this
            # device no longer has (a new router gave it another): node.json's bind.
            raise cfg.ConfigError(
                f"{exc}: free that port, or correct bind in {cfg.CONFIG_FILE} "
                "(this device's LAN address and a free port)"
            ) from None
        self.control = ControlServer(cfg.control_socket_path(self.data_dir), self._on_control)
        await self.control.start()
        if c.guest_door and (c.mdns or c.guest_bind):
            host = self.transport.bound_address.removeprefix("tcp://").rpartition(":")[0]
            self.guest_door = GuestDoor(
                bind_addr=c.guest_bind or f"tcp://{host}:*",
                keypair=self.keys,
                handler=self.admission.on_guest,
            )
            await self.guest_door.start()
        if c.mdns:
            await self._start_discovery()
        loop = asyncio.get_running_loop()
        loops = (self._ticker(), self._receiver(), self._gossip(), self._pumper(), self._manager())
        for coro in loops:
            task = loop.create_task(coro)
            task.add_done_callback(self._on_task_done)
            self._tasks.append(task)
        self.watchdog.start(own_beat=False)  # the ticker beats it (see _ticker)
        self._started = True
        log.info(
            "node started",
            extra={"node": c.node, "site": c.site, "bind": c.bind, "peers": sorted(c.peers)},
        )

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        # The node's loops never end on their own: one that did is a bug. Serving on
        # without it would look healthy while doing nothing, so say so and stop (the
        # supervisor restarts the node; Raft and the store make that safe).
        if task.cancelled() or self.fatal.is_set():
            return
        exc = task.exception()
        log.critical(
            "a node task died: stopping so the supervisor restarts this node",
            extra={"task": task.get_name(), "error": repr(exc)},
            exc_info=exc,
        )
        self.fatal.set()

    async def _start_discovery(self) -> None:
        assert self.keys is not None and self.transport is not None
        c = self.config
        host, _, port = self.transport.bound_address.removeprefix("tcp://").rpartition(":")
        addresses = list(c.mdns_interfaces) or [host]
        self.discovery = Discovery(
            site=c.site,
            node_id=c.node,
            role=c.role,
            public_key=self.keys.public,
            port=int(port),
            addresses=addresses,
            interfaces=addresses,
            on_event=self._on_discovery,
            guest_port=self.guest_door.port if self.guest_door is not None else 0,
        )
        try:
            await self.discovery.start()
        except NameTaken as exc:
            # Most likely a copy of this device's data directory running elsewhere
            # (a swapped-in spare): two devices with one name would split its votes.
            raise cfg.ConfigError(
                f"{exc}: stop that device first, or enrol this one under a new name "
                "with a code from tablemesh ctl enrol-code"
            ) from None

    def _on_discovery(self, event: DiscoveryEvent) -> None:
        """A peer of our site advertised where it listens: reach it there (never trust it more)."""
        if not isinstance(event, DiscoveredPeer) or self.transport is None:
            return
        peer = self.enrolled().get(event.node_id)
        if peer is None or peer.public_key != event.public_key:
            # Not an enrolled device of ours, or a key we never enrolled: ignore it.
            log.warning("ignored an mDNS advert", extra={"node": event.node_id})
            return
        known = self.transport.peers().get(event.node_id)
        if known is None or known.address != event.endpoint:
            log.info("peer found by mDNS", extra={"peer": event.node_id, "at": event.endpoint})
            self.transport.set_peer(event.node_id, event.endpoint, event.public_key)

    def _ran_before(self) -> bool:
        """A node ran on this directory (it has a log, a lost-log marker or a counter)."""
        return any(
            (self.data_dir / name).exists()
            for name in (cfg.DB_FILE, cfg.LOST_MARKER_FILE, cfg.COUNTER_FILE)
        )

    def _load_keys(self, ran_before: bool) -> KeyPair:
        """This device's key pair, as site set-up or enrolment made it; never a new one.

        The site knows the device by the key its node.json was written with: a fresh
        key would be refused by every peer with nothing said here.
        """
        try:
            return load_or_create_keypair(self.data_dir / cfg.KEYS_DIR, create=False)
        except MissingKeyError:
            c = self.config
            holds = "the log of" if ran_before else "the set-up of"
            message = (
                f"{self.data_dir} holds {holds} device {c.node!r} of site {c.site!r}, but its "
                f"secret key {cfg.KEYS_DIR}/{SECRET_FILE} is missing, and the site knows this "
                "device only by that key: restore the keys directory from a backup, or revoke "
                f"the device (tablemesh ctl revoke {c.node}, on the leader) and enrol it again "
                "with a new code into an empty data directory"
            )
            # Logged as well as raised: the apps run a node without the CLI's message.
            log.error("the device's key is missing", extra={"error": message})
            raise cfg.ConfigError(message) from None
        except KeyFileError as exc:
            keys = self.data_dir / cfg.KEYS_DIR
            if "accessible by others" in str(exc):
                advice = f"make it readable by its owner only (chmod 600 {keys / SECRET_FILE})"
            else:
                advice = (
                    "restore the keys directory from a backup, or revoke the device "
                    f"(tablemesh ctl revoke {self.config.node}, on the leader) and enrol it "
                    "again with a new code into an empty data directory"
                )
            message = f"{keys}: {exc}: {advice}"
            log.error("the device's key cannot be used", extra={"error": message})
            raise cfg.ConfigError(message) from None

    def _counter_floor(self, ran_before: bool) -> int:
        """Where check IDs resume when the counter file was lost from a directory that ran.

        Above every ID of this device the log shows, with a gap for IDs handed out
        whose commands had not reached this node yet: an ID used twice would make
        the second check a conflict (or, worse, one check of two tables).
        """
        if not ran_before or (self.data_dir / cfg.COUNTER_FILE).exists():
            return 1
        assert self.replica is not None
        prefix = self.config.device_prefix
        used = (temp_id_counter(ref, prefix) for ref in self.replica.ledger.checks)
        highest = max((n for n in used if n is not None), default=0)
        floor = highest + 1 + LOST_FILE_GAP
        log.warning(
            "the check ID counter file was lost: resuming above the log's highest ID",
            extra={"highest": highest, "resume_at": floor},
        )
        return floor

    def _open_store(self) -> SQLiteStorage:
        path = self.data_dir / cfg.DB_FILE
        try:
            return SQLiteStorage(path)
        except StoreCorrupt as exc:
            # Keep the evidence, start empty: Raft brings this node back up to date
            # from the leader (a snapshot), and nothing acknowledged lived only here.
            aside = path.with_name(f"{path.name}.corrupt-{int(self._wall())}")
            path.rename(aside)
            # Durable before the new store exists: a restart mid-recovery still abstains.
            (self.data_dir / cfg.LOST_MARKER_FILE).touch()
            for suffix in ("-wal", "-shm"):
                side = path.with_name(path.name + suffix)
                if side.exists():
                    side.rename(aside.with_name(aside.name + suffix))
            log.error(
                "store is corrupt: moved aside, rejoining from the leader",
                extra={"error": str(exc), "moved_to": aside.name},
            )
            return SQLiteStorage(path)

    async def stop(self, *, transfer: bool = True) -> None:
        """Stop serving. A leader hands over to its most up-to-date voter first."""
        if transfer:
            await self._transfer_away()
        if self._sync_task is not None:
            self._sync_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._sync_task
            self._sync_task = None
        self.watchdog.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task  # a task that died was already logged by _on_task_done
        self._tasks.clear()
        # Kill the children of background work still running (each is reaped).
        for job in (self._snapshotting, self._hash_job[1] if self._hash_job else None):
            if job is not None:
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await job
        if self._writing is not None:
            # Never close the store under a write still running on its thread.
            with contextlib.suppress(Exception):
                await self._writing
        for fut in self._waiters.values():
            if not fut.done():
                fut.set_exception(LeadershipLost("node stopping"))
        for fut in self._waiters.values():
            if fut.done() and not fut.cancelled():
                fut.exception()  # retrieved: no "never retrieved" warning
        if self.discovery is not None:
            await self.discovery.close()
        if self.control is not None:
            await self.control.close()
        if self.guest_door is not None:
            await self.guest_door.close()
        if self.transport is not None:
            await self.transport.close()
        if self.replica is not None:
            with contextlib.suppress(Exception):
                self.replica.flush()
            self.replica.store.close()
        self._stopped.set()
        # A start that failed (a node already running here, a port taken) closes what
        # it opened too: saying "node stopped" then would read as the running one.
        log.info("node stopped" if self._started else "node did not start",
                 extra={"node": self.node_id})  # fmt: skip

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def _transfer_away(self) -> None:
        r = self.replica
        if r is None or r.role is not Role.LEADER:
            return
        status = r.status()
        candidates = [
            (p.match, nid)
            for nid, p in status.progress.items()
            if nid != self.node_id and not p.learner and p.recent_active
        ]
        if not candidates:
            return
        _, to = max(candidates)
        try:
            r.transfer_leadership(to)
        except ProposalRefused as exc:
            log.warning("leader transfer refused", extra={"to": to, "error": str(exc)})
            return
        self._schedule_pump()
        deadline = time.monotonic() + constants.TRANSFER_WAIT_S
        while time.monotonic() < deadline and r.role is Role.LEADER:
            await asyncio.sleep(0.01)
        log.info("leadership handed over", extra={"to": to, "done": r.role is not Role.LEADER})

    # -- membership ------------------------------------------------------------
    def devices(self) -> dict[str, cfg.PeerConfig]:
        """Every other device the site ever enrolled: ``node.json``'s, then the roster's.

        A roster entry with the key of another device (this one, or one of
        ``node.json``'s under another name) is left out: the leader refuses such an
        enrolment, but one in a log from before it did must not stop the node."""
        devices = dict(self.config.peers)
        if self.replica is not None:
            holders = {p.public_key: name for name, p in self.config.peers.items()}
            if self.keys is not None:
                holders[self.keys.public] = self.node_id
            for name, entry in sorted(self.replica.roster.enrolled.items()):
                if name == self.node_id or holders.setdefault(entry["key"], name) != name:
                    continue
                devices[name] = cfg.PeerConfig(
                    address=entry["address"], public_key=entry["key"], role=entry["role"]
                )
        return devices

    def key_holder(self, public_key: str) -> str | None:
        """The device (this one included) whose key ``public_key`` is, if any."""
        if self.keys is not None and public_key == self.keys.public:
            return self.node_id
        for name, peer in self.devices().items():
            if peer.public_key == public_key:
                return name
        return None

    def enrolled(self) -> dict[str, cfg.PeerConfig]:
        """The other devices whose keys we accept: every device less those revoked."""
        roster = self.replica.roster if self.replica is not None else None
        return {
            name: peer
            for name, peer in self.devices().items()
            if roster is None or not roster.is_revoked(name, peer.public_key)
        }

    def _enforce_roster(self) -> None:
        """The roster changed (an enrolment, a revocation): the transport follows at once."""
        assert self.replica is not None and self.transport is not None
        r = self.replica
        mark = r.roster_mark()
        if mark == self._roster_mark:
            return
        self._roster_mark = mark
        enrolled = self.enrolled()
        self.transport.set_allowed_keys({name: p.public_key for name, p in enrolled.items()})
        known = self.transport.peers()
        for name, peer in enrolled.items():
            info = known.get(name)
            if peer.address and (info is None or info.public_key != peer.public_key):
                self.transport.set_peer(name, peer.address, peer.public_key)
        for name in self.devices().keys() - enrolled.keys():
            self.transport.remove_peer(name)
            self._last_heard.pop(name, None)
            self._peer_status.pop(name, None)
        revoked = sorted(r.roster.revoked)
        log.warning("roster applied", extra={"enrolled": sorted(enrolled), "revoked": revoked})
        if self.node_id in r.roster.revoked:
            log.error("this device was revoked by the site: its frames are refused from now on")

    async def commit_record(
        self, record: dict[str, Any], timeout: float
    ) -> tuple[int, None] | tuple[None, dict[str, Any]]:
        """Propose one roster record on the leader and wait until it is applied here."""
        r = self.replica
        assert r is not None
        if r.role is not Role.LEADER:
            return None, error_reply(
                "not_leader", "ask the leader (see ctl status)", leader=r.leader
            )
        try:
            (index,) = r.propose([roster.encode_record(record)])
        except ProposalRefused as exc:
            return None, error_reply("not_leader", f"could not propose: {exc}", leader=r.leader)
        self._schedule_pump()
        if not await self.wait_applied(index, timeout):
            return None, error_reply("timeout", f"not applied within {timeout:g} s; ask again")
        return index, None

    def door_counters(self) -> dict[str, int]:
        return self.guest_door.counters() if self.guest_door is not None else {}

    def membership_settings(self) -> membership.MembershipSettings:
        c = self.config
        return membership.MembershipSettings(
            target=c.voter_target,
            voter_dead_after_s=c.voter_dead_after_s,
            reachable_within_s=constants.QUORUM_CONTACT_S,
            promote_lag_entries=c.promote_lag_entries,
        )

    def membership_view(self) -> membership.MeshView | None:
        """What the leader's policy decides from; None on a follower."""
        r = self.replica
        if r is None or r.role is not Role.LEADER:
            return None
        st = r.status()
        now = time.monotonic()
        peers: dict[str, membership.PeerView] = {}
        enrolled = self.enrolled()
        for name, peer in enrolled.items():
            # Never heard since we started counts as silent since we started: a
            # voter that was dead before this leader's process began is not immortal.
            heard = self._last_heard.get(name, self.started_at)
            progress = st.progress.get(name)
            peers[name] = membership.PeerView(
                role=peer.role,
                silent_s=max(0.0, now - heard),
                match=progress.match if progress is not None else 0,
            )
        return membership.MeshView(
            leader=self.node_id,
            conf=st.conf,
            last_index=st.last_index,
            pending=st.pending_conf_index > st.commit,
            peers=peers,
            # Only devices the roster revoked: a member missing from node.json is left alone.
            revoked=frozenset(
                (st.conf.voters | st.conf.learners) & (self.devices().keys() - enrolled.keys())
            ),
        )

    def manage_membership(self) -> ConfChange | None:
        """On the leader: propose the policy's next change, if any; return what was proposed."""
        view = self.membership_view()
        if view is None or not self.config.auto_membership:
            return None
        change = membership.next_change(view, self.membership_settings())
        if change is None:
            return None
        assert self.replica is not None
        try:
            index = self.replica.propose_conf_change(change)
        except ProposalRefused as exc:
            # Too early in a new term, a transfer under way, one still pending: the
            # next look retries with fresh facts.
            log.debug("membership change refused", extra={"change": str(change), "error": str(exc)})
            return None
        log.info(
            "membership change proposed",
            extra={"change": change.type.name.lower(), "peer": change.node_id, "index": index},
        )
        self._schedule_pump()
        return change

    async def _manager(self) -> None:
        while True:
            await asyncio.sleep(constants.MEMBERSHIP_CHECK_S)
            self.manage_membership()

    # -- the loop --------------------------------------------------------------
    async def _ticker(self) -> None:
        assert self.replica is not None
        period = constants.TICK_MS / 1000
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        idle_ticks = 0
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if loop.time() - next_at > 10 * period:
                next_at = loop.time()  # the process was paused: do not burst ticks
            self.watchdog.beat()  # TICK_MS <= the watchdog's BEAT_S: no timer of its own
            self.replica.tick()
            # Most ticks of a follower only count towards an election timeout: the pumper
            # is woken when the tick made something to do (a heartbeat, a campaign), not
            # twenty times a second for nothing. It also wakes for every message received,
            # and every constants.IDLE_PUMP_TICKS ticks whatever happened (its timed retries).
            idle_ticks += 1
            if self.replica.has_ready() or self._queued or idle_ticks >= constants.IDLE_PUMP_TICKS:
                idle_ticks = 0
                self._schedule_pump()

    async def _receiver(self) -> None:
        assert self.transport is not None
        while True:
            peer, message = await self.transport.recv()
            self._last_heard[peer] = time.monotonic()
            try:
                self._dispatch(peer, message)
            except Exception:  # one bad message must never stop the node
                log.exception("failed to handle a message", extra={"peer": peer})

    def _dispatch(self, peer: str, message: schema.WireMessage) -> None:
        assert self.replica is not None
        if isinstance(message, schema.RaftEnvelope):
            m = message.message
            if message.site != self.config.site or m.frm != peer or m.to != self.node_id:
                log.warning("dropped a misaddressed raft message", extra={"peer": peer})
                return
            self.replica.step(m)
            self._schedule_pump()
        elif isinstance(message, schema.ForwardRequest):
            if message.origin != peer:
                log.warning("dropped a forward with a forged origin", extra={"peer": peer})
                return
            self._on_forward(message)
        elif isinstance(message, schema.ForwardReply):
            fut = self._forwards.get(message.req_id)
            if fut is not None and not fut.done():
                fut.set_result(message)
        elif isinstance(message, schema.NodeStatus) and message.node == peer:
            self._peer_status[peer] = PeerSeen(message, time.monotonic())

    def _schedule_pump(self) -> None:
        self._wake.set()

    def _send_raft(self, messages: list[Message]) -> None:
        assert self.replica is not None and self.transport is not None
        for m in messages:
            try:
                sent = self.transport.send(
                    m.to, schema.RaftEnvelope(site=self.config.site, message=m)
                )
            except schema.SchemaError:
                # Too large for one frame (a snapshot past the limit): never crash the
                # loop over it; the follower stays behind and it is logged.
                log.exception("could not encode a raft message", extra={"to": m.to})
                sent = False
            if m.type is MessageType.SNAPSHOT:
                self.replica.report_snapshot(m.to, failed=not sent)

    async def _pumper(self) -> None:
        """Drive Readies: persist each (mesh/node/write_placement.py says where), then
        send what it promises and apply what is committed.

        Every command that arrives while one batch is on its way to disk joins the
        next batch: one append and one fsync for all of them (group commit).
        """
        r = self.replica
        assert r is not None
        retry_s = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._propose_queued()
            self._snapshot_step()
            while (rd := r.next_ready()) is not None:
                self._send_raft(r.early_messages(rd))
                plan = r.plan_for(rd)
                if plan is not None:
                    try:
                        await self._persist(plan)
                    except Exception:
                        # A failed write (disk full, I/O error) sends no promise and applies
                        # nothing; the same Ready is written again after a pause.
                        log.exception("could not persist; retrying", extra={"retry_s": retry_s})
                        await asyncio.sleep(retry_s)
                        retry_s = min(retry_s * 2, 2.0)
                        continue
                retry_s = 0.05
                applied = r.finish(rd)
                self._send_raft(r.late_messages(rd))
                self._after_apply(applied)
                if self.heap is not None and applied:
                    self.heap.applied(len(applied))
                self._snapshot_step()
                self._check_role()
                self._propose_queued()

    async def _persist(self, plan: WritePlan) -> None:
        """Write one Ready: on the loop when that is cheaper (mesh/node/write_placement.py)."""
        r = self.replica
        assert r is not None
        if self._placement.on_loop(has_snapshot=plan.snapshot is not None):
            started = time.monotonic()
            try:
                r.write(plan)
            finally:
                self._placement.ran_on_loop(time.monotonic() - started)
            return
        self._writing = asyncio.ensure_future(asyncio.to_thread(r.write, plan))
        try:
            await asyncio.shield(self._writing)
        finally:
            self._writing = None

    def _snapshot_step(self) -> None:
        """Store a snapshot encoded in the background, or start encoding one when due.

        Called by the pumper between Readies: the store is used by one thread at a
        time, and no Ready's write is in flight here.
        """
        r = self.replica
        assert r is not None
        if self._snapshot_made is not None:
            index, data = self._snapshot_made
            self._snapshot_made = None
            try:
                r.compact_to(index, data)
            except Exception:
                log.exception("could not store a snapshot; will retry", extra={"index": index})
        if (
            not r.snapshots_elsewhere
            or self._snapshotting is not None
            or time.monotonic() < self._snapshot_not_before
            or not r.snapshot_due()
        ):
            return
        index, work = r.snapshot_work()
        try:
            child = background.Child(work)  # forked now: the state as of ``index``
        except OSError:
            log.exception("could not fork to encode a snapshot; will retry")
            self._snapshot_not_before = time.monotonic() + constants.SNAPSHOT_RETRY_S
            return
        self._snapshotting = asyncio.ensure_future(self._collect_snapshot(index, child))

    async def _collect_snapshot(self, index: int, child: background.Child) -> None:
        started = time.monotonic()
        try:
            data = await child.result()
        except background.BackgroundFailed as exc:
            log.error(
                "encoding a snapshot failed; will retry", extra={"index": index, "why": str(exc)}
            )
            self._snapshot_not_before = time.monotonic() + constants.SNAPSHOT_RETRY_S
            return
        finally:
            self._snapshotting = None
        seconds = round(time.monotonic() - started, 3)
        log.info(
            "snapshot encoded in the background",
            extra={"index": index, "bytes": len(data), "seconds": seconds},
        )
        self._snapshot_made = (index, data)
        self._schedule_pump()

    def _propose_queued(self) -> None:
        r = self.replica
        if r is None:
            return
        self._check_role()  # an election won since the last Ready queues its duties first
        if not self._queued:
            return
        queued, self._queued = self._queued, []
        origins = [self._proposed_for.pop(cid, None) for cid, _, _ in queued]
        submits = [self._proposed_here.pop(cid, None) for cid, _, _ in queued]
        if r.role is not Role.LEADER:
            for cid, _, _ in queued:
                self._fail_waiter(cid, LeadershipLost("not leader"))
            return
        # One stamp for the batch (the mesh's time is read once: it asks every voter's
        # clock), never going backwards, even when this device's clock jumps back.
        self._last_stamp = max(self._last_stamp, self.agreed_now_ms())
        stamp = self._last_stamp
        datas = [encode_payload(stamp, command, writer) for _, command, writer in queued]
        try:
            indexes = r.propose(datas)
        except ProposalRefused as exc:
            for cid, _, _ in queued:
                self._fail_waiter(cid, LeadershipLost(str(exc)))
            return
        assert self.transport is not None
        while self._proposer and len(self._proposer) > PROPOSERS_KEPT - len(queued):
            del self._proposer[next(iter(self._proposer))]  # the oldest
        for (cid, _, _), origin, submit, index in zip(
            queued, origins, submits, indexes, strict=True
        ):
            if submit is not None:
                submit.proposed.add(index)
            if origin is not None:
                peer, req_id = origin
                self._proposer[cid] = (peer, req_id, index)
                # Sent before the appends, on the same link: the origin knows its
                # entry before it can apply it, and answers from that apply.
                self.transport.send(peer, schema.ForwardReply.proposed(req_id, index))

    def _fail_waiter(self, cid: str, exc: Exception) -> None:
        fut = self._waiters.pop(cid, None)
        if fut is not None and not fut.done():
            fut.set_exception(exc)
            fut.exception()  # the submitter may have given up; never warn about it

    def _after_apply(self, applied: list[Applied]) -> None:
        if not applied:
            return
        assert self.replica is not None
        for item in applied:
            outcome = item.outcome
            if outcome is None or outcome.command_id is None:
                continue
            fut = self._waiters.pop(outcome.command_id, None)
            if fut is not None and not fut.done():
                fut.set_result(outcome)
            watch = self._applied_watch.get(outcome.command_id)
            if watch is not None and not watch.done():
                watch.set_result(item)
        if self.replica.roster_mark() != self._roster_mark:
            self._enforce_roster()
        ledger = self.replica.ledger
        self._last_stamp = max(self._last_stamp, ledger.last_time_ms)
        index = ledger.applied_index
        still: list[tuple[int, asyncio.Future[None]]] = []
        for want, waiter in self._apply_waiters:
            if want > index:
                still.append((want, waiter))
            elif not waiter.done():
                waiter.set_result(None)
        self._apply_waiters = still
        for listener in list(self._listeners):
            try:
                listener(index)
            except Exception:
                log.exception("a change listener failed")

    def _check_role(self) -> None:
        assert self.replica is not None
        leader = self.replica.role is Role.LEADER
        if leader and not self._was_leader:
            self._on_elected()
        if self._was_leader and not leader:
            self._stop_sync()
            self._proposer.clear()  # a later term's leader must not vouch for these
            # Entries proposed here may be overwritten by the new leader: tell every
            # waiter to retry through it (the same id, so at most one is applied).
            for cid in list(self._waiters):
                self._fail_waiter(cid, LeadershipLost("leadership lost"))
        self._was_leader = leader
        known = self.replica.leader
        if known != self._known_leader:
            # Wake every forward waiting on the old leader: it is re-sent (same id) as
            # soon as a new one is known, not after its retry timer.
            self._known_leader = known
            if self._leader_news is not None and not self._leader_news.done():
                self._leader_news.set_result(None)
            self._leader_news = None  # the next forward makes a new one

    def _on_elected(self) -> None:
        assert self.replica is not None
        log.info("elected leader", extra={"node": self.node_id, "term": self.replica.term})
        self._start_sync()
        genesis = self.data_dir / cfg.GENESIS_FILE
        if self.replica.ledger.catalog is None and genesis.exists():
            # Queued now, ahead of any client's command: a new site's first sale must
            # find its menu. The fixed id makes a second leader's attempt a no-op.
            command = {
                "type": "catalog_update",
                "id": f"genesis-{self.config.site}",
                "by": "@setup",
                "catalog": json.loads(genesis.read_text()),
            }
            fut = self._propose_local(command, first=True)
            fut.add_done_callback(self._log_genesis)

    def _start_sync(self) -> None:
        """The leader alone talks to the cloud; its agent lives exactly as long as its term."""
        cloud = self.config.cloud
        if cloud is None or self._sync_task is not None:
            return
        agent = SyncAgent(
            url=cloud.url,
            token=cloud.token,
            ledger=self._ledger,
            propose=lambda command: self.submit(command, trusted=True),
            now_ms=self.now_ms,
            on_state=self._on_cloud_state,
        )
        self._sync_task = asyncio.get_running_loop().create_task(agent.run())
        self._sync_task.add_done_callback(self._on_sync_done)

    def _on_sync_done(self, task: asyncio.Task[None]) -> None:
        # The agent retries every error it knows; one that still escapes is a bug.
        # Say so, and start a fresh agent while we lead (it resumes from the log).
        if task.cancelled() or task is not self._sync_task:
            return
        log.error("the sync agent died; starting it again", exc_info=task.exception())
        self._sync_task = None
        r = self.replica
        if r is not None and r.role is Role.LEADER and not self._stopped.is_set():
            asyncio.get_running_loop().call_later(1.0, self._restart_sync)

    def _restart_sync(self) -> None:
        r = self.replica
        if r is not None and r.role is Role.LEADER and not self._stopped.is_set():
            self._start_sync()

    def _stop_sync(self) -> None:
        if self._sync_task is not None:
            self._sync_task.cancel()
            self._sync_task = None
        if self.config.cloud is not None:
            self.cloud_state = {
                "cloud": "unknown",
                "backlog": 0,
                "oldest_ms": None,
                "last_sync_ms": None,
            }

    def _ledger(self) -> LedgerState:
        assert self.replica is not None
        return self.replica.ledger

    def _on_cloud_state(self, state: dict[str, Any]) -> None:
        self.cloud_state = state

    @staticmethod
    def _log_genesis(fut: asyncio.Future[Outcome]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            log.warning("genesis catalog not committed yet", extra={"error": str(exc)})
            return
        outcome = fut.result()
        log.info("genesis catalog", extra={"ok": outcome.ok, "duplicate": outcome.duplicate})

    # -- commands --------------------------------------------------------------
    def prepare(self, command: dict[str, Any]) -> dict[str, Any]:
        """Fill in what the client library owns: the command id and a new check's temporary ID."""
        command = dict(command)
        if command.get("id") is None:  # any other id is the client's, checked by ``submit``
            command["id"] = uuid.uuid4().hex
        assert self.counter is not None
        if command.get("type") == "open_check" and not command.get("check"):
            command["check"] = self.counter.next_id()
        if command.get("type") == "split_check" and isinstance(command.get("parts"), list):
            # Each new part is a new check: it gets a temporary ID of this device.
            parts = []
            for part in command["parts"]:
                if isinstance(part, dict) and not part.get("new_check"):
                    part = {**part, "new_check": self.counter.next_id()}
                parts.append(part)
            command["parts"] = parts
        return command

    def _propose_local(
        self,
        command: dict[str, Any],
        *,
        first: bool = False,
        fw: Forwarding | None = None,
        writer: str | None = None,
    ) -> asyncio.Future[Outcome]:
        """The outcome of ``command`` once applied here; ``fw``, a submit here, learns
        the index it is proposed at (an outcome at another index is a duplicate).
        ``writer``: the token of the submit the entry is written for, if any."""
        cid = str(command["id"])
        fut = self._waiters.get(cid)
        if fut is not None:
            return fut  # a retry of a command already on its way: not ``fw``'s entry
        fut = asyncio.get_running_loop().create_future()
        assert self.replica is not None
        seen = self.replica.ledger.seen_outcome(cid)
        if seen is not None:
            fut.set_result(Outcome.from_dict(seen, duplicate=True))
            return fut
        self._waiters[cid] = fut
        if fw is not None:
            self._proposed_here[cid] = fw
        queued = (cid, command, writer)
        if first:
            self._queued.insert(0, queued)
        else:
            self._queued.append(queued)
        self._schedule_pump()
        return fut

    async def submit(
        self, command: dict[str, Any], *, timeout: float | None = None, trusted: bool = False
    ) -> dict[str, Any]:
        """Replicate ``command``; the ``ctl submit --json`` reply once applied, or an error.

        Only the node itself (``trusted``: site set-up, the sync agent) may act as a
        system actor (``by`` starting with ``@``); a client never can.
        """
        if not isinstance(command, dict) or not isinstance(command.get("type"), str):
            return error_reply("invalid", 'a command is a JSON object with a string "type"')
        if not trusted and str(command.get("by", "")).startswith("@"):
            return error_reply("forbidden", "system actors (@...) cannot be used by a client")
        command = self.prepare(command)
        if command_id_of(command) is None:
            # Refused here, never proposed: the ledger would reject it with no id to answer
            # by, leaving this submit (and any later one with its text) waiting for good.
            return error_reply("invalid", BAD_ID)
        try:
            # As it will be forwarded: a request id with a token of the same length.
            req_id = forward_req_id(str(command["id"]), "0" * 2 * TOKEN_BYTES)
            schema.ForwardRequest(req_id=req_id, origin=self.node_id, command=command)
        except schema.SchemaError as exc:
            return error_reply("invalid", f"command cannot be sent: {exc}")
        budget = constants.SUBMIT_TIMEOUT_S if timeout is None else timeout
        cid = str(command["id"])
        assert self.replica is not None
        seen = self.replica.ledger.seen_outcome(cid)
        if seen is not None:
            # A retry of a command applied here already, so committed: answered here.
            return outcome_reply(Outcome.from_dict(json_copy(seen), duplicate=True))
        # The same id already on its way from this node (a terminal's retry that did not
        # wait for its first try): one application, and this one answers as the replay.
        again = self._submitting.get(cid, 0) > 0
        self._submitting[cid] = self._submitting.get(cid, 0) + 1
        watch = self._applied_watch.get(cid)
        if watch is None:
            watch = self._applied_watch[cid] = asyncio.get_running_loop().create_future()
        fw = Forwarding(cid, watch)
        try:
            reply = await self._submit(command, budget, fw)
        finally:
            self._forwards.pop(fw.req_id, None)  # a word that came too late for anyone
            self._submitting[cid] -= 1
            if not self._submitting[cid]:
                del self._submitting[cid]
                if self._applied_watch.get(cid) is watch:
                    del self._applied_watch[cid]
        if again and "index" in reply:
            reply["duplicate"] = True
        return reply

    async def _submit(
        self, command: dict[str, Any], budget: float, fw: Forwarding
    ) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        cid = str(command["id"])
        attempted = False
        while (remaining := deadline - loop.time()) > 0:
            r = self.replica
            assert r is not None
            seen = r.ledger.seen_outcome(cid)
            if seen is not None and attempted:
                # Applied here, but not seen applied (it came inside a snapshot).
                self._note_forwarded(fw)
                return outcome_reply(fw.label(Outcome.from_dict(json_copy(seen))))
            if r.role is Role.LEADER:
                attempted = True
                try:
                    outcome = await asyncio.wait_for(
                        asyncio.shield(self._propose_local(command, fw=fw, writer=fw.token)),
                        remaining,
                    )
                except LeadershipLost:
                    continue
                except TimeoutError:
                    break
                # Leading now, but a leader before us may have proposed our command
                # when we forwarded it: its word of the index makes that entry ours.
                self._note_forwarded(fw)
                return outcome_reply(fw.label(outcome))
            leader = r.leader
            if leader is None or leader == self.node_id:
                await asyncio.sleep(min(constants.NO_LEADER_POLL_S, remaining))
                continue
            attempted = True
            reply = await self._forward(
                leader, command, min(constants.FORWARD_RETRY_S, remaining), fw
            )
            if isinstance(reply, Outcome):
                return outcome_reply(reply)
            if reply is None:
                continue
            if not reply.ok:
                error = reply.error or {}
                if error.get("code") in {"not_leader", "leadership_lost"}:
                    await asyncio.sleep(min(constants.NO_LEADER_POLL_S, remaining))
                    continue
                return error_reply(str(error.get("code")), str(error.get("message")))
            assert reply.outcome is not None
            # Applied here too before answering: our apply names the entry's writer.
            await self.wait_applied(reply.index, constants.APPLY_WAIT_S)
            return outcome_reply(fw.label(Outcome.from_dict(reply.outcome)))
        # In quorum, a budget spent before the first try (a tiny --timeout) is a
        # timeout: "no_quorum" would send a script to wait for a network that is fine.
        if not self.in_quorum():
            return error_reply(
                "no_quorum",
                f"this device cannot reach a quorum of the mesh (waited {budget:g} s); "
                "nothing was recorded by this attempt unless a retry with the same id says so",
                id=command["id"],
            )
        return error_reply(
            "timeout",
            f"not acknowledged within {budget:g} s; retry with the same id "
            f"({command['id']}): it is applied at most once",
            id=command["id"],
        )

    def _note_forwarded(self, fw: Forwarding) -> None:
        """Read a leader's word of the index of our forwarded command that came after
        the forward stopped waiting for it."""
        fut = self._forwards.get(fw.req_id)
        if fut is not None:
            fw.note(fut)

    async def _forward(
        self, leader: str, command: dict[str, Any], wait: float, fw: Forwarding
    ) -> schema.ForwardReply | Outcome | None:
        """Send ``command`` to ``leader``; the outcome as this node applied it, or the
        leader's reply, or None when neither came within ``wait`` s or the leader changed.

        Applying is deterministic, so this node's outcome of the committed command is
        the leader's, and once it is here the command is applied here too: the client
        is answered as soon as the commit news has arrived. The leader replies to a
        command it proposes afresh with only the entry's index, before the entry
        itself leaves; it answers in full a command it had applied (or proposed)
        before, and with an error when it cannot propose.
        """
        assert self.transport is not None
        req_id = fw.req_id
        fut = self._forwards.get(req_id)
        if fut is not None and fut.done():
            fw.note(fut)  # a reply that came after our last try gave up waiting
        if fut is None or fut.done():
            fut = asyncio.get_running_loop().create_future()
            self._forwards[req_id] = fut
        request = schema.ForwardRequest(req_id=req_id, origin=self.node_id, command=command)
        self.transport.send(leader, request)
        if self._leader_news is None:
            self._leader_news = asyncio.get_running_loop().create_future()
        news = self._leader_news
        loop = asyncio.get_running_loop()
        until = loop.time() + wait
        asked = False
        try:
            # Our own apply, the reply, or news of another leader (then the caller
            # re-sends at once), or the retry timer: whichever comes first.
            while (left := until - loop.time()) > 0:
                if asked:  # applied here already: only the leader's answer is awaited
                    waiting: tuple[asyncio.Future[Any], ...] = (news, fut)
                else:
                    waiting = (fw.applied, news) if fut.done() else (fw.applied, news, fut)
                await asyncio.wait(waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED)
                # The index first: when messages come in a batch, the apply of our entry
                # can be done by the time this runs, with the leader's word still unread.
                fw.note(fut)
                applied_here = fw.applied.done() and not fw.applied.cancelled()
                first = fw.applied.result() if applied_here else None
                if first is not None and first.outcome is not None:
                    applied = first.outcome
                    if asked or first.writer is not None or applied.index in fw.proposed:
                        return fw.label(applied)
                    # Applied at an index the leader never named to us, writer unknown:
                    # a replay of an older entry, or ours with the leader's word lost on
                    # the way (a link cut). The leader names its proposals for us again
                    # (or answers in full: not ours); with no answer, it counts as a replay.
                    asked = True
                    fut = asyncio.get_running_loop().create_future()
                    self._forwards[req_id] = fut
                    self.transport.send(leader, request)
                    continue
                if news.done() or not fut.done() or fut.cancelled():
                    return None
                reply = fut.result()
                if not (reply.ok and reply.outcome is None):
                    return reply
            return None
        finally:
            if fut.done() or fw.applied.done():
                # A reply still on its way finds no one waiting and is ignored.
                self._forwards.pop(req_id, None)

    def _on_forward(self, request: schema.ForwardRequest) -> None:
        assert self.replica is not None and self.transport is not None
        transport, origin = self.transport, request.origin
        if self.replica.role is not Role.LEADER:
            transport.send(
                origin, schema.ForwardReply.not_leader(request.req_id, self.replica.leader)
            )
            return
        if command_id_of(request.command) is None:  # a node of ours checked it already
            error = {"code": "invalid", "message": BAD_ID}
            refused = schema.ForwardReply(
                req_id=request.req_id, ok=False, index=0, outcome=None, error=error
            )
            transport.send(origin, refused)
            return
        cid = str(request.command["id"])
        mine = self._proposer.get(cid)
        if mine is not None and mine[:2] == (origin, request.req_id):
            # Its entry, proposed for it before: the origin may have lost that word.
            transport.send(origin, schema.ForwardReply.proposed(request.req_id, mine[2]))
        before = cid in self._waiters
        writer = submit_token(request.req_id, cid)
        fut = self._propose_local(request.command, writer=writer)
        fresh = not before and not fut.done()
        if fresh:
            self._proposed_for[cid] = (origin, request.req_id)  # told the index once proposed

        def answer(done: asyncio.Future[Outcome]) -> None:
            if done.cancelled():
                return
            exc = done.exception()
            if exc is not None:
                reply = schema.ForwardReply(
                    req_id=request.req_id,
                    ok=False,
                    index=0,
                    outcome=None,
                    error={"code": "leadership_lost", "message": str(exc)},
                    leader=None,
                )
            else:
                outcome = done.result()
                if fresh:
                    # The origin knows the entry's index and answers from its own
                    # apply (``_forward``); a reply would only wake it once more.
                    return
                body = outcome.to_dict()
                reply = schema.ForwardReply(
                    req_id=request.req_id, ok=True, index=outcome.index, outcome=body, error=None
                )
            transport.send(origin, reply)

        fut.add_done_callback(answer)

    async def wait_applied(self, index: int, timeout: float) -> bool:
        assert self.replica is not None
        if self.replica.ledger.applied_index >= index:
            return True
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._apply_waiters.append((index, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return False
        return True

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # -- status ----------------------------------------------------------------
    def _recent(self, peer: str) -> bool:
        at = self._last_heard.get(peer)
        return at is not None and time.monotonic() - at < constants.QUORUM_CONTACT_S

    def in_quorum(self) -> bool:
        r = self.replica
        if r is None:
            return False
        # Contact must go both ways: with a one-way loss a device that hears the
        # leader but cannot reach it would otherwise claim a quorum its writes never
        # get. Each node's gossip says whom it heard; hearing a peer and being in
        # its list means the link works in both directions.
        if r.role is Role.LEADER:
            voters = r.voters
            heard = sum(1 for v in voters if v == self.node_id or self._mutual(v))
            return heard >= len(voters) // 2 + 1
        leader = r.leader
        if leader is None or leader == self.node_id or not self._mutual(leader):
            return False
        # And the leader itself must still lead a quorum: a leader cut off with us
        # in a minority keeps gossiping to us until CheckQuorum makes it step down,
        # and a learner never campaigns, so it would keep trusting it for good.
        seen = self._peer_status[leader].status  # _mutual: recent gossip exists
        return seen.role == Role.LEADER.value and seen.dot != "cut_off"

    def _mutual(self, peer: str) -> bool:
        if not self._recent(peer):
            return False
        seen = self._peer_status.get(peer)
        if seen is None or time.monotonic() - seen.at > constants.QUORUM_CONTACT_S:
            return False
        heard = seen.status.extra.get("heard")
        # A peer that does not say whom it heard (an older version) is taken at its word.
        return not isinstance(heard, list) or self.node_id in heard

    def cloud_view(self) -> dict[str, Any]:
        """What the leader says of the cloud (its own view if it is the leader)."""
        r = self.replica
        if r is None or r.role is Role.LEADER or r.leader is None:
            return self.cloud_state
        seen = self._peer_status.get(r.leader)
        if seen is None:
            return {"cloud": "unknown", "backlog": 0, "oldest_ms": None, "last_sync_ms": None}
        extra = seen.status.extra
        return {
            "cloud": str(extra.get("cloud", "unknown")),
            "backlog": int(extra.get("backlog", 0) or 0),
            "oldest_ms": extra.get("oldest_ms"),
            "last_sync_ms": extra.get("last_sync_ms"),
        }

    def dot(self) -> str:
        cloud = self.cloud_view()
        return compute_dot(
            in_quorum=self.in_quorum(), cloud=str(cloud["cloud"]), backlog=int(cloud["backlog"])
        )

    def status(self, *, with_hash: bool = True) -> dict[str, Any]:
        """What ``ctl status`` shows. ``with_hash=False`` leaves ``state_hash`` null: the
        hash serializes the whole ledger (a busy evening: megabytes) on the node's loop
        once per change, which a screen polling its dot has no use for."""
        r = self.replica
        assert r is not None and self.transport is not None
        st = r.status()
        return {
            "node": self.node_id,
            "site": self.config.site,
            # What this device is (the apps read their station here), then its Raft role.
            "device": {
                "role": self.config.role,
                "station": self.config.station,
                "prefix": self.config.device_prefix,
            },
            "role": st.role.value,
            "leader": st.leader,
            "term": st.term,
            "commit_index": st.commit,
            "applied_index": r.ledger.applied_index,
            "last_index": st.last_index,
            "snapshot_index": r.store.snapshot().meta.index,
            "state_hash": r.ledger.state_hash() if with_hash else None,
            "dot": self.dot(),
            "in_quorum": self.in_quorum(),
            "cloud": self.cloud_view(),
            "voters": sorted(st.conf.voters),
            "learners": sorted(st.conf.learners),
            "peers": {
                peer: {
                    "reachable": self._recent(peer),
                    "connected": peer in connected,
                    "revoked": peer not in enrolled,
                }
                for peer in sorted(self.devices())
                for connected in [self.transport.connected_peers()]
                for enrolled in [self.enrolled()]
            },
            "counters": {
                **self.transport.counters(),
                **self.admission.counts,
                **self.door_counters(),
            },
            "disk": {
                **{k: round(v, 4) for k, v in r.stats.items()},
                "slow_writes": self._placement.slow_writes,
            },
            "loop": {
                "stalls": self.watchdog.stalls,
                "longest_s": round(self.watchdog.longest_s, 3),
            },
            "gc": heap.status(self.heap),
            "uptime_s": round(time.monotonic() - self.started_at, 3),
        }

    async def status_with_hash(self) -> dict[str, Any]:
        """``status()`` with its state hash, worked out off the loop when the ledger is big.

        The status and the hash are of one moment: the status is read when the child
        that hashes is forked. Callers that ask while a hash is being worked out share
        it (and that moment's status) instead of forking once each.
        """
        r = self.replica
        assert r is not None
        ledger = r.ledger
        small = len(ledger.checks) + len(ledger.tickets) < constants.HASH_IN_CHILD_ABOVE
        if self._hash_job is None:
            if ledger.known_hash() is not None or small or not background.can_fork():
                return self.status(with_hash=True)
            status = self.status(with_hash=False)
            index = ledger.applied_index
            try:
                child = background.Child(lambda: ledger.state_hash().encode())
            except OSError:
                log.exception("could not fork to hash the ledger; hashing it here")
                return self.status(with_hash=True)
            hashing = asyncio.ensure_future(self._collect_hash(child, ledger, index))
            self._hash_job = (status, hashing)
            hashing.add_done_callback(lambda _: setattr(self, "_hash_job", None))
        then, job = self._hash_job
        try:
            return {**then, "state_hash": await asyncio.shield(job)}
        except background.BackgroundFailed as exc:
            log.error("hashing the ledger off the loop failed", extra={"why": str(exc)})
            return self.status(with_hash=True)

    @staticmethod
    async def _collect_hash(child: background.Child, ledger: LedgerState, index: int) -> str:
        digest = (await child.result()).decode()
        ledger.note_hash(index, digest)
        return digest

    def members(self) -> list[dict[str, Any]]:
        r = self.replica
        assert r is not None
        st = r.status()
        now = time.monotonic()
        devices = self.devices()
        out = []
        for member in sorted(st.conf.voters | st.conf.learners):
            me = member == self.node_id
            heard = self._last_heard.get(member)
            seen = self._peer_status.get(member)
            peer_cfg = devices.get(member)
            progress = st.progress.get(member)
            out.append(
                {
                    "node": member,
                    "role": self.config.role if me else (peer_cfg.role if peer_cfg else None),
                    "voter": member in st.conf.voters,
                    "raft_role": st.role.value if me else (seen.status.role if seen else None),
                    "reachable": me or self._recent(member),
                    "last_heard": 0.0 if me else (None if heard is None else round(now - heard, 3)),
                    "match_index": r.store.last_index()
                    if me
                    else (progress.match if progress else None),
                    "applied_index": r.ledger.applied_index
                    if me
                    else (seen.status.applied if seen else None),
                }
            )
        return out

    async def _gossip(self) -> None:
        assert self.replica is not None and self.transport is not None
        while True:
            await asyncio.sleep(constants.STATUS_GOSSIP_S)
            r = self.replica
            st = r.status()
            status = schema.NodeStatus(
                node=self.node_id,
                role=st.role.value,
                term=st.term,
                applied=r.ledger.applied_index,
                leader=st.leader,
                dot=self.dot(),
                extra={
                    **(self.cloud_state if st.role is Role.LEADER else {}),
                    "wall_ms": self.now_ms(),  # for the leader's agreed time
                    # whom we heard lately, so each peer knows its link to us works
                    "heard": sorted(p for p in self._last_heard if self._recent(p)),
                },
            )
            # Every enrolled device, members or not: a device that was removed while
            # away (or was just enrolled) is heard by the leader this way, and re-added.
            for peer in (st.conf.voters | st.conf.learners | self.enrolled().keys()) - {
                self.node_id
            }:
                self.transport.send(peer, status)

    # -- the control socket ----------------------------------------------------
    async def _on_control(self, request: dict[str, Any]) -> dict[str, Any]:
        return await control_ops.handle(self, request)

    def now_ms(self) -> int:
        return int(self._wall() * 1000) + self.clock_offset_ms

    def agreed_now_ms(self) -> int:
        """The time the leader stamps entries with: the median of the voters' clocks.

        One device's clock (the leader's included) jumping a day ahead must not move
        every sale into tomorrow's business day: with a majority of right clocks the
        median is right. The lower median for an even count, so with two clocks the
        earlier wins (a stamp too early is corrected by the next; one too late pins
        the ledger's time, which never goes backwards). Peers' clocks come from their
        gossip, aged by how long ago we heard it.
        """
        own = self.now_ms()
        r = self.replica
        if r is None:
            return own
        clocks = [own]
        mono = time.monotonic()
        for peer in r.voters:
            seen = self._peer_status.get(peer)
            if peer == self.node_id or seen is None or mono - seen.at > constants.CLOCK_FRESH_S:
                continue
            wall = seen.status.extra.get("wall_ms")
            if isinstance(wall, int) and not isinstance(wall, bool):
                clocks.append(wall + int((mono - seen.at) * 1000))
        agreed = int(statistics.median_low(clocks))
        skew_s = (own - agreed) / 1000
        if abs(skew_s) > constants.CLOCK_WARN_S and mono - self._clock_warned > 60:
            self._clock_warned = mono
            log.warning(
                "this device's clock differs from the mesh's: stamping with the mesh's time",
                extra={"skew_s": round(skew_s, 1), "clocks": len(clocks)},
            )
        return agreed
