"""Who may join the site: enrolment codes, enrolments (local or by the guest door), revocations.

The leader makes a code (its hash is committed as an offer), a new device proves
it (the code itself over the control socket, or an HMAC proof through the guest
door, ``mesh.net.guest``), and the leader commits the device's key with a check
ID prefix no other device has; every node applies the record and takes the key
at once (``Node._enforce_roster``). A manager revokes a lost device's key the
same way. Wrong, used or expired codes are refused with a clear message, counted
(``enrol.refused.<code>`` in ``ctl status``), and lock enrolment on this node
after five in a row (docs/membership.md).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
from typing import TYPE_CHECKING, Any

from mesh.net.guest import refusal
from mesh.net.keys import is_z85_key
from mesh.net.schema import GuestAnswer, GuestEnrol, SchemaError, check_id, check_json
from mesh.node import config as cfg
from mesh.node import constants, enrolment
from mesh.node.errors import error_reply
from mesh.node.pins import Lockout
from mesh.node.site_setup import prefix_for
from mesh.raft.raft import Role

if TYPE_CHECKING:
    from mesh.node.node import Node

log = logging.getLogger(__name__)

_LOCKING = frozenset({"wrong_code", "expired_code", "used_code"})


class Admission:
    """One node's enrolment and revocation service (acting only while it is leader)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self.lockout = Lockout()  # wrong enrolment codes tried on this node
        self.counts: collections.Counter[str] = collections.Counter()
        # One enrolment at a time on this leader: two at once could be given the
        # same prefix (the roster refuses the second, but it would fail needlessly).
        self._one_at_a_time = asyncio.Lock()

    async def revoke(
        self, peer: str, *, timeout: float = constants.SUBMIT_TIMEOUT_S
    ) -> dict[str, Any]:
        """Commit the revocation of ``peer``'s key (leader only); answers once applied here."""
        node = self._node
        r = node.replica
        assert r is not None
        if peer == node.node_id:
            # Not "not found": a leader cannot shut itself out while it leads the site.
            return error_reply(
                "invalid",
                f"{peer} is this device, the leader: stop it (it hands over) and revoke it "
                "from the new leader",
            )
        target = node.devices().get(peer)
        if target is None:
            return error_reply("not_found", f"{peer} is not an enrolled device of this site")
        if r.roster.is_revoked(peer, target.public_key):
            # The roster keeps no index per revocation. Every index from the one it was
            # committed at on has it in force, this node's applied index among them, so
            # ``index`` tells a script the same as a first revocation's: a node that has
            # applied it refuses the key.
            return {"ok": True, "node": peer, "index": r.ledger.applied_index, "already": True}
        record = {"op": "revoke", "node": peer, "key": target.public_key}
        index, error = await node.commit_record(record, timeout)
        if error is not None:
            return error
        return {"ok": True, "node": peer, "index": index}

    async def make_code(
        self, ttl_s: float = enrolment.DEFAULT_TTL_S, *, timeout: float = constants.SUBMIT_TIMEOUT_S
    ) -> dict[str, Any]:
        """Make a one-time enrolment code (leader only); its hash is committed, never the code."""
        node = self._node
        code = enrolment.new_code()
        canonical = enrolment.normalize(code)
        assert canonical is not None
        expires_ms = node.agreed_now_ms() + int(ttl_s * 1000)
        digest = enrolment.code_hash(node.config.site, canonical)
        record = {"op": "offer", "code": digest, "expires_ms": expires_ms}
        _, error = await node.commit_record(record, timeout)
        if error is not None:
            return error
        log.info("enrolment code made", extra={"expires_ms": expires_ms})
        return {"ok": True, "code": code, "expires_ms": expires_ms, "ttl_s": ttl_s}

    def _refused(self, code: str, message: str, **extra: Any) -> dict[str, Any]:
        self.counts[f"enrol.refused.{code}"] += 1
        if code in _LOCKING:
            self.lockout.record(False, time.monotonic())
        log.warning("enrolment refused", extra={"reason": code})
        return error_reply(code, message, **extra)

    def _free_prefix(self) -> str:
        """A check ID prefix no device of the site has, nor ever had."""
        node = self._node
        assert node.replica is not None
        # The founding devices hold prefix_for(1..N) (site init numbers them from 1),
        # and every node.json lists at least as many devices as were founded.
        taken = node.replica.roster.prefixes() | {node.config.device_prefix}
        taken |= {prefix_for(i) for i in range(1, len(node.config.peers) + 2)}
        number = 1
        while prefix_for(number) in taken:
            number += 1
        return prefix_for(number)

    async def enrol(
        self,
        *,
        node_name: str,
        public_key: str,
        role: str,
        address: str,
        code: str | None = None,
        proof: str | None = None,
        timeout: float = constants.SUBMIT_TIMEOUT_S,
    ) -> dict[str, Any]:
        """A new device proves a code (leader only): its key is committed to the roster.

        Give ``code`` (the control socket: a local administrator typed it) or
        ``proof`` (the guest door; ``public_key`` is then the key the device's
        connection was authenticated with). Answers with what the device needs to
        join: the site, its check ID prefix, and every enrolled device's address,
        key and role.
        """
        async with self._one_at_a_time:
            return await self._enrol(node_name, public_key, role, address, code, proof, timeout)

    async def _enrol(
        self,
        name: str,
        public_key: str,
        role: str,
        address: str,
        code: str | None,
        proof: str | None,
        timeout: float,
    ) -> dict[str, Any]:
        node = self._node
        r = node.replica
        assert r is not None and node.keys is not None and node.transport is not None
        if r.role is not Role.LEADER:
            return error_reply("not_leader", "ask the leader (see ctl status)", leader=r.leader)
        wait = self.lockout.locked(time.monotonic())
        if wait > 0:
            return self._refused(
                "rate_limited",
                f"too many wrong enrolment codes: try again in {math.ceil(wait)} s",
                # Whole seconds: the guest door's answer carries no floats.
                retry_in_s=math.ceil(wait),
            )
        try:
            check_id(name, "node")
        except SchemaError:
            return self._refused("invalid", f"{name!r} is not a valid device name")
        if role not in cfg.ROLES or not is_z85_key(public_key):
            return self._refused("invalid", "role or public key is not valid")
        if address and not address.startswith("tcp://"):
            return self._refused("invalid", "address must be tcp://host:port")
        if r.roster.enrolled_with(name, public_key):
            # This very device (its key) asks again: its answer was lost on the way
            # (a timeout, a new leader). Answer it again rather than "exists".
            return self._welcome(name, r.roster.enrolled[name].get("prefix", ""))
        if name == node.node_id or name in node.enrolled():
            return self._refused("exists", f"a device named {name} is already enrolled")
        site = node.config.site
        digest: str | None = None
        if code is not None:
            canonical = enrolment.normalize(code)
            digest = enrolment.code_hash(site, canonical) if canonical else None
        elif proof is not None:
            digest = enrolment.offer_for_proof(
                r.roster.offers,
                proof,
                device_key=public_key,
                server_key=node.keys.public,
                node=name,
                role=role,
                address=address,
            )
        offer = r.roster.offers.get(digest) if digest is not None else None
        if digest is None or offer is None:
            return self._refused("wrong_code", "this enrolment code is not valid")
        if offer["used_by"] is not None:
            return self._refused("used_code", "this enrolment code was already used")
        now = node.agreed_now_ms()
        if now > offer["expires_ms"]:
            return self._refused("expired_code", "this enrolment code has expired")
        # Then one key, one device: a key two devices share cannot tell them apart, and a
        # revoked key stays out under any name (membership.md).
        if public_key in r.roster.revoked.values():
            why = "this key was revoked: a device re-enrols with a new key"
            return self._refused("revoked", why)
        holder = node.key_holder(public_key)
        if holder is not None:
            why = f"this key is already {holder}'s: each device needs a key of its own"
            return self._refused("exists", why)
        prefix = self._free_prefix()
        record = {
            "op": "enrol",
            "code": digest,
            "node": name,
            "key": public_key,
            "role": role,
            "address": address,
            "at_ms": now,
            "prefix": prefix,
        }
        _, error = await node.commit_record(record, timeout)
        if error is not None:
            return error
        if not r.roster.enrolled_with(name, public_key):
            # Another device used the code between our check and the commit.
            return self._refused("used_code", "this enrolment code was already used")
        self.counts["enrol.accepted"] += 1
        self.lockout.record(True, time.monotonic())
        log.warning("device enrolled", extra={"peer": name, "role": role, "prefix": prefix})
        return self._welcome(name, prefix)

    def _welcome(self, name: str, prefix: str) -> dict[str, Any]:
        """What an enrolled device needs to join: the site, its prefix, every device."""
        node = self._node
        assert node.keys is not None and node.transport is not None
        peers = {
            peer: {"address": p.address, "public_key": p.public_key, "role": p.role}
            for peer, p in node.enrolled().items()
            if peer != name
        }
        peers[node.node_id] = {
            "address": node.transport.bound_address,
            "public_key": node.keys.public,
            "role": node.config.role,
        }
        return {
            "ok": True,
            "node": name,
            "site": node.config.site,
            "prefix": prefix,
            "peers": peers,
        }

    async def on_guest(self, request: GuestEnrol, device_key: str) -> GuestAnswer:
        """The guest door's handler: a device that is not enrolled yet asks to join."""
        node = self._node
        r = node.replica
        assert r is not None
        if request.site != node.config.site:
            self.counts["enrol.refused.wrong_site"] += 1
            return refusal("wrong_site", f"this is site {node.config.site}, not {request.site}")
        if r.role is not Role.LEADER:
            return refusal("not_leader", "ask the leader", leader=r.leader)
        reply = await self.enrol(
            node_name=request.node,
            public_key=device_key,
            role=request.role,
            address=request.address,
            proof=request.proof,
        )
        return guest_answer(reply)


def guest_answer(reply: dict[str, Any]) -> GuestAnswer:
    """The guest door's answer for an ``enrol`` reply (ok, or its error and extras).

    The door's schema is stricter than the control socket's JSON (no floats): an
    extra it cannot carry is left out rather than turning the answer into an
    internal error the device could not act on.
    """
    if reply.get("ok"):
        result = {k: v for k, v in reply.items() if k != "ok"}
        return GuestAnswer(ok=True, result=result, error=None)
    error = dict(reply.get("error") or {"code": "internal", "message": "no answer"})
    extra: dict[str, Any] = {}
    for key, value in reply.items():
        if key in {"ok", "error", "leader"}:
            continue
        try:
            check_json(value, key)
        except SchemaError:
            log.warning("left %s out of a guest answer: not carried by the door", key)
            continue
        extra[key] = value
    leader = reply.get("leader")
    return GuestAnswer(
        ok=False,
        result=None,
        error={**extra, **error},
        leader=leader if isinstance(leader, str) else None,
    )
