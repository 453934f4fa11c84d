"""What the control socket answers: one function per ``op``, each returning a JSON-able dict.

These replies are the ``tablemesh ctl --json`` contract documented in docs/ctl.md;
change a field only together with that page.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mesh.ledger import queries
from mesh.ledger.business_day import is_day_name
from mesh.ledger.check_ids import not_a_check_ref, parse_check_ref
from mesh.node import enrolment, pins

if TYPE_CHECKING:
    from mesh.node.node import Node

MAX_WATCH_S = 30.0


def _ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def _bad(message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": "bad_request", "message": message}}


def _opt_str(request: dict[str, Any], key: str) -> str | None:
    value = request.get(key)
    return value if isinstance(value, str) and value else None


async def _status(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """``"hash": false`` skips the state hash (see ``Node.status``)."""
    with_hash = request.get("hash", True)
    if not isinstance(with_hash, bool):
        return _bad('"hash" must be true or false')
    if not with_hash:
        return _ok(**node.status(with_hash=False))
    return _ok(**await node.status_with_hash())


async def _submit(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    command = request.get("command")
    if not isinstance(command, dict):
        return _bad('submit needs "command": a JSON object (see docs/commands.md)')
    timeout = request.get("timeout")
    if timeout is not None and (not isinstance(timeout, int | float) or not 0 < timeout <= 60):
        return _bad('"timeout" must be a number of seconds in (0, 60]')
    return await node.submit(command, timeout=timeout)


async def _state(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    ledger = node.replica.ledger if node.replica else None
    assert ledger is not None
    return _ok(node=node.node_id, **queries.overview(ledger, now_ms=node.now_ms()))


def _strings(request: dict[str, Any], *keys: str) -> dict[str, str | None] | str:
    """Optional text filters (an empty one is none), or what is wrong with one: a
    filter of the wrong type is refused, never ignored (which would list everything)."""
    out: dict[str, str | None] = {}
    for key in keys:
        value = request.get(key)
        if value is not None and not isinstance(value, str):
            return f'"{key}" must be a string'
        out[key] = value or None
    return out


async def _checks(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    assert node.replica is not None
    ledger = node.replica.ledger
    got = _strings(request, "check", "day", "table", "server")
    if isinstance(got, str):
        return _bad(got)
    everything = request.get("all", False)
    if not isinstance(everything, bool):
        return _bad('"all" must be true or false')
    if request.get("check") == "":
        # An empty reference is a script's empty variable: it asked for one check,
        # and a list of every open one would be read as that check.
        return {"ok": False, "error": {"code": "invalid", "message": not_a_check_ref("")}}
    if got["day"] is not None and not is_day_name(got["day"]):
        # A typo in a date would otherwise read as "no sales that day".
        return _bad(f'"day" must be a business day YYYY-MM-DD, not {got["day"]!r}')
    ref = got["check"]
    if ref is not None:
        # Refused as a payment refuses it: a mistyped ID is not "no such check".
        if parse_check_ref(ref) is None:
            return {"ok": False, "error": {"code": "invalid", "message": not_a_check_ref(ref)}}
        found = queries.find_check(ledger, ref)
        if found is None:
            return {"ok": False, "error": {"code": "not_found", "message": f"no check {ref}"}}
        return _ok(check=found)
    # A day's checks are all of them, open or closed, as ``all`` is; the filters add up.
    checks = queries.list_checks(
        ledger,
        open_only=not everything and got["day"] is None,
        day=got["day"],
        table=got["table"],
        server=got["server"],
    )
    return _ok(checks=checks)


async def _tickets(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    assert node.replica is not None
    got = _strings(request, "station")
    if isinstance(got, str):
        return _bad(got)
    include_bumped = request.get("include_bumped", False)
    if not isinstance(include_bumped, bool):
        return _bad('"include_bumped" must be true or false')
    return _ok(
        tickets=queries.tickets(
            node.replica.ledger,
            station=got["station"],
            include_bumped=include_bumped,
            now_ms=node.now_ms(),
        )
    )


async def _members(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    return _ok(members=node.members())


async def _revoke(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """Revoke a device's key site-wide (docs/membership.md); on the leader only."""
    peer = _opt_str(request, "node")
    if peer is None:
        return _bad('revoke needs "node": the device to revoke')
    return await node.admission.revoke(peer)


async def _enrol_code(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """Make a one-time enrolment code (docs/membership.md); on the leader only."""
    ttl = request.get("ttl_s", enrolment.DEFAULT_TTL_S)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        return _bad('"ttl_s" must be a number of seconds')
    if not 0 < ttl <= enrolment.MAX_TTL_S:
        return _bad(f'"ttl_s" must be in (0, {enrolment.MAX_TTL_S}]')
    return await node.admission.make_code(float(ttl))


async def _enrol(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """A new device proves a code: its key joins the replicated roster (leader only)."""
    fields = {}
    for key in ("code", "node", "public_key", "role"):
        value = request.get(key)
        if not isinstance(value, str) or not value:
            return _bad(f'enrol needs "{key}" (a string)')
        fields[key] = value
    address = request.get("address", "")
    if not isinstance(address, str):
        return _bad('"address" must be a string (tcp://host:port, or "" for mDNS)')
    return await node.admission.enrol(
        code=fields["code"],
        node_name=fields["node"],
        public_key=fields["public_key"],
        role=fields["role"],
        address=address,
    )


async def _watch(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """Long-poll: answers once the applied index passes ``after`` (or at the timeout)."""
    after = request.get("after", 0)
    timeout = request.get("timeout", 10.0)
    numbers = all(not isinstance(v, bool) for v in (after, timeout))
    if not (numbers and isinstance(after, int) and isinstance(timeout, int | float)):
        return _bad('watch takes integer "after" and numeric "timeout"')
    if not 0 <= timeout <= MAX_WATCH_S:
        return _bad(f'watch\'s "timeout" must be 0 to {MAX_WATCH_S:g} s')
    await node.wait_applied(after + 1, float(timeout))
    assert node.replica is not None
    return _ok(applied_index=node.replica.ledger.applied_index)


def _public_catalog(catalog: dict[str, Any] | None) -> dict[str, Any] | None:
    """The catalog as screens need it: never the PIN hashes."""
    if catalog is None:
        return None
    out = copy.deepcopy(catalog)
    for member in out.get("staff", {}).values():
        member.pop("pin_hash", None)
    return out


async def _catalog(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    assert node.replica is not None
    ledger = node.replica.ledger
    return _ok(catalog=_public_catalog(ledger.catalog), eighty_six=sorted(ledger.eighty_six))


def _staff_hashes(node: Node, roles: frozenset[str] | None = None) -> dict[str, str]:
    assert node.replica is not None
    catalog = node.replica.ledger.catalog or {}
    return {
        sid: member["pin_hash"]
        for sid, member in catalog.get("staff", {}).items()
        if member.get("pin_hash")
        and member.get("active", True)
        and (roles is None or member.get("role") in roles)
    }


async def _check_pin(
    node: Node, request: dict[str, Any], roles: frozenset[str] | None
) -> dict[str, Any]:
    """Verify a PIN on this device (slow hash, off the loop), with lockout."""
    pin = request.get("pin")
    if not isinstance(pin, str) or not (pin.isascii() and pin.isdigit()):
        return _bad('"pin" must be a string of digits')
    now = time.monotonic()
    wait = node.lockout.locked(now)
    if wait > 0:
        return {
            "ok": False,
            "error": {
                "code": "locked",
                "message": f"too many wrong PINs: try again in {int(wait) + 1} s",
                "retry_in_s": round(wait, 1),
            },
        }
    assert node.replica is not None
    if node.replica.ledger.catalog is None:
        # This device has not caught up with the site's log yet: no staff to check
        # against. Saying "wrong PIN" would send a server to a manager for nothing.
        return {
            "ok": False,
            "error": {"code": "no_catalog", "message": "this device is still starting up"},
        }
    hashes = _staff_hashes(node, roles)
    staff_id = await asyncio.to_thread(pins.find_staff, hashes, pin)
    node.lockout.record(staff_id is not None, time.monotonic())
    if staff_id is None:
        what = "manager PIN" if roles else "PIN"
        return {"ok": False, "error": {"code": "wrong_pin", "message": f"wrong {what}"}}
    assert node.replica is not None and node.replica.ledger.catalog is not None
    member = node.replica.ledger.catalog["staff"][staff_id]
    return _ok(staff={"id": staff_id, "name": member["name"], "role": member["role"]})


async def _login(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    return await _check_pin(node, request, None)


async def _approve(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """A manager's PIN, for an approval: answers the manager's staff id."""
    return await _check_pin(node, request, frozenset({"manager"}))


async def _query(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """Read-only views the apps need beyond checks and tickets."""
    assert node.replica is not None
    ledger = node.replica.ledger
    name = request.get("name")
    got = _strings(request, "station", "day")
    if isinstance(got, str):
        return _bad(got)
    station = got["station"]
    if name == "day_summary":
        return _ok(summary=queries.day_summary(ledger, now_ms=node.now_ms(), day=got["day"]))
    if name == "all_day":
        return _ok(counts=queries.all_day_counts(ledger, station=station))
    if name == "recently_bumped":
        if station is None:
            return _bad('recently_bumped needs "station"')
        return _ok(tickets=queries.recently_bumped(ledger, station=station, now_ms=node.now_ms()))
    if name == "audit":
        return _ok(audit=queries.audit_trail(ledger))
    if name == "clocked_in":
        return _ok(staff=queries.clocked_in(ledger))
    return _bad(
        "query name must be one of day_summary, all_day, recently_bumped, audit, clocked_in"
    )


async def _clock_offset(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    """Shift this node's wall clock by ``ms`` (fault injection; a device with a wrong clock)."""
    shift = request.get("ms")
    if isinstance(shift, bool) or not isinstance(shift, int) or abs(shift) > 10 * 365 * 86_400_000:
        return _bad('"ms" must be an integer number of milliseconds (within ten years)')
    node.clock_offset_ms = shift
    return _ok(clock_offset_ms=shift, now_ms=node.now_ms())


OPS: dict[str, Callable[[Node, dict[str, Any]], Awaitable[dict[str, Any]]]] = {
    "status": _status,
    "submit": _submit,
    "state": _state,
    "checks": _checks,
    "tickets": _tickets,
    "members": _members,
    "revoke": _revoke,
    "enrol_code": _enrol_code,
    "enrol": _enrol,
    "watch": _watch,
    "catalog": _catalog,
    "login": _login,
    "approve": _approve,
    "query": _query,
    "clock_offset": _clock_offset,
}


async def handle(node: Node, request: dict[str, Any]) -> dict[str, Any]:
    op = OPS.get(str(request.get("op")))
    if op is None:
        return _bad(f"unknown op {request.get('op')!r}; known: {', '.join(sorted(OPS))}")
    return await op(node, request)
