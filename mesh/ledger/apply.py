"""``apply(state, entry) -> Outcome``: the one way the ledger changes.

Order of work for each committed entry (the same on every node):
1. The entry must be past the applied index (a node bug otherwise: raise).
2. The effective time is ``max(stamped time, last time)``: the leader never goes
   backwards, and if a new leader's clock did, time still only moves forward here.
3. Outcomes older than the dedup window are forgotten (by stamped time).
4. A command id seen before returns its first outcome and changes nothing else.
5. Parse, check the actor's role, run the handler. A ``Rejected`` leaves the
   domain untouched (handlers validate before they mutate); the rejection is
   remembered like a success, so a retry gets the same answer. Any other
   exception is a bug: it becomes an ``internal`` error (see below), never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mesh.ledger import check_handlers as checks
from mesh.ledger import cloud_handlers as cloud
from mesh.ledger import day_handlers as day
from mesh.ledger import kitchen_handlers as kitchen
from mesh.ledger.commands import Command, command_id_of, parse_command
from mesh.ledger.entry import LedgerEntry, Outcome
from mesh.ledger.errors import LedgerError, OutOfOrderEntry, Rejected
from mesh.ledger.rules import Ctx, require_role
from mesh.ledger.state import LedgerState, json_copy

Handler = Callable[[Ctx, Any], dict[str, Any]]

# Rules: command type -> handler.
HANDLERS: dict[str, Handler] = {
    "open_check": checks.open_check_handler,
    "add_items": checks.add_items_handler,
    "void_item": checks.void_item_handler,
    "fire": checks.fire_handler,
    "hold_course": checks.hold_course_handler,
    "pay": checks.pay_handler,
    "close_check": checks.close_check_handler,
    "reopen_check": checks.reopen_check_handler,
    "transfer_check": checks.transfer_check_handler,
    "split_check": checks.split_check_handler,
    "comp": checks.comp_handler,
    "attach_loyalty": checks.attach_loyalty_handler,
    "bump": kitchen.bump_handler,
    "recall": kitchen.recall_handler,
    "refire": kitchen.refire_handler,
    "eighty_six": kitchen.eighty_six_handler,
    "clock_in": day.clock_in_handler,
    "clock_out": day.clock_out_handler,
    "no_sale": day.no_sale_handler,
    "open_day": day.open_day_handler,
    "close_day": day.close_day_handler,
    "check_numbered": cloud.check_numbered_handler,
    "checks_numbered": cloud.checks_numbered_handler,
    "catalog_update": cloud.catalog_update_handler,
    "synced": cloud.synced_handler,
}


def _run(state: LedgerState, command: Command, now: int) -> dict[str, Any]:
    role = require_role(state, command.type, command.by)
    return HANDLERS[command.type](Ctx(state=state, now=now, role=role), command)


def apply(state: LedgerState, entry: LedgerEntry) -> Outcome:
    """Apply one committed entry to ``state`` and say what happened."""
    if entry.index <= state.applied_index:
        raise OutOfOrderEntry(f"entry {entry.index} is not after applied {state.applied_index}")
    state.applied_index = entry.index
    state.applied_term = max(state.applied_term, entry.term)
    now = max(entry.time_ms, state.last_time_ms)
    state.last_time_ms = now
    state.forget_before(now, entry.index)

    command_id = command_id_of(entry.command)
    if command_id is not None:
        seen = state.seen_outcome(command_id)
        if seen is not None:
            return Outcome.from_dict(json_copy(seen), duplicate=True)
    try:
        command = parse_command(entry.command)
        result = _run(state, command, now)
        outcome = Outcome(command_id=command_id, index=entry.index, ok=True, result=result)
    except Rejected as rejected:
        outcome = Outcome(command_id=command_id, index=entry.index, ok=False, error=rejected.error)
    except Exception as bug:
        # A bug in a handler. Pure code fails the same way on every node, so the
        # replicas stay identical; raising instead would stop every node at this
        # entry, for good, and the restaurant with them. The command is reported as
        # failed and may be partly applied: the message names the bug to report.
        # Only the class name: a repr may hold a memory address, which differs by node.
        name = entry.command.get("type") if isinstance(entry.command, dict) else None
        message = f"internal error in {name}: {type(bug).__name__}"
        error = LedgerError(code="internal", message=message)
        outcome = Outcome(command_id=command_id, index=entry.index, ok=False, error=error)
    if command_id is not None:
        # A JSON copy: the caller may keep or change the outcome it gets back, and the
        # remembered one must be exactly what a restored snapshot would hold.
        state.remember(command_id, now, json_copy(outcome.to_dict()), entry.index)
    return outcome
