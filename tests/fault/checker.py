"""Judge a run: the recorded history against every node's final state.

Properties (each violation is one line of evidence in ``Verdict.problems``):

1. convergence: once faults stop, every node reaches the same applied index and
   state hash;
2. exactly once: every acknowledged command is applied exactly once on every node
   (``add_items`` lines by note, ``pay`` payments by tip, checks by id, fired lines,
   closed checks, bumped tickets); an ``unknown`` one at most once;
3. refusals stick: a command reported failed (a definite refusal) is not applied;
4. no ghost: nothing is applied that no client ever sent;
5. kitchen: every fired line is on exactly one ticket of its station and one expo
   ticket, and every ticket an acknowledged ``fire`` named exists with that line;
6. replays: a command id replayed after its acknowledgement returns the first
   outcome (``duplicate``, same index);
7. linearizability of each check's operations (``linearizability.CheckModel``),
   with each node's final read of the check as a last read.

Two more come from the harness: ``sync`` (the backlog drains once the cloud is
back) and ``dot`` (a node in a minority says it is cut off), checked while the
run goes on. Check numbers (unique, gap-free per site) need the cloud; ``check_numbers``
checks them when the final states carry numbers and says so when none do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.fault.history import FAIL, OK, UNKNOWN, Op, by_check
from tests.fault.linearizability import CheckModel, LinOp, LinResult, check_linearizable

LIN_KINDS = ("open_check", "add_items", "pay", "close_check")
MAX_PROBLEMS_PER_KIND = 20  # evidence lines kept per property; the count is always exact


@dataclass(slots=True)
class NodeState:
    """What one node shows at the end of a run."""

    node: str
    applied_index: int
    commit_index: int
    state_hash: str
    checks: dict[str, dict[str, Any]]  # temporary id -> find_check view (with lines, payments)
    tickets: list[dict[str, Any]]  # every ticket, bumped ones too


@dataclass(slots=True)
class Verdict:
    problems: dict[str, list[str]] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)  # what was not checked, and why
    linearizable_checks: int = 0
    inconclusive_checks: int = 0

    def add(self, prop: str, evidence: str) -> None:
        self.counts[prop] += 1
        found = self.problems.setdefault(prop, [])
        if len(found) < MAX_PROBLEMS_PER_KIND:
            found.append(evidence)

    @property
    def ok(self) -> bool:
        return not self.counts

    def summary(self) -> str:
        if self.ok:
            return "OK"
        return "FAIL(" + ",".join(f"{k}:{v}" for k, v in sorted(self.counts.items())) + ")"

    def report(self) -> str:
        lines = [f"verdict {self.summary()}"]
        for prop, evidence in sorted(self.problems.items()):
            lines.append(f"[{prop}] {self.counts[prop]} violation(s)")
            lines.extend(f"  {e}" for e in evidence)
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def check_run(ops: list[Op], finals: list[NodeState], *, converged: bool = True) -> Verdict:
    v = Verdict()
    if not converged:
        v.add("convergence", "the nodes did not reach one applied index and hash in time")
    check_convergence(v, finals)
    for final in finals:
        check_exactly_once(v, ops, final)
        check_kitchen(v, ops, final)
    check_replays(v, ops)
    check_linearizability(v, ops, finals)
    check_numbers(v, finals)
    return v


def check_convergence(v: Verdict, finals: list[NodeState]) -> None:
    seen = {(f.applied_index, f.state_hash) for f in finals}
    if len(seen) > 1:
        detail = ", ".join(f"{f.node}@{f.applied_index}:{f.state_hash[:12]}" for f in finals)
        v.add("convergence", f"nodes differ: {detail}")


def _expected(ops: Iterable[Op], kind: str) -> dict[str, list[Op]]:
    found: dict[str, list[Op]] = {}
    for op in ops:
        if op.kind == kind:
            found.setdefault(op.cid, []).append(op)
    return found


def check_exactly_once(v: Verdict, ops: list[Op], final: NodeState) -> None:
    node = final.node
    note_counts: Counter[str] = Counter()
    tip_counts: Counter[int] = Counter()
    for check in final.checks.values():
        for line in check.get("lines", []):
            note_counts[str(line.get("note", ""))] += 1
        for payment in check.get("payments", []):
            tip_counts[int(payment.get("tip", 0))] += 1
    # add_items: every note names the op's command id and the item's position in it.
    sent_notes: dict[str, Op] = {}
    for op in ops:
        if op.kind == "add_items":
            for note in op.value.get("notes", []):
                sent_notes[note] = op
    for note, op in sent_notes.items():
        n = note_counts.get(note, 0)
        if op.result == OK and n != 1:
            v.add("exactly_once", f"{node}: acked add {op.cid} (seq {op.seq}) line {note} x{n}")
        elif op.result == FAIL and n:
            v.add("refusal_applied", f"{node}: refused add {op.cid} ({op.error}) is applied x{n}")
        elif op.result == UNKNOWN and n > 1:
            v.add("exactly_once", f"{node}: add {op.cid} (unknown) line {note} x{n}")
    for note, n in note_counts.items():
        if note not in sent_notes:
            v.add("ghost", f"{node}: a line with note {note!r} x{n} that no client sent")
    sent_tips: dict[int, Op] = {int(op.value["tip"]): op for op in ops if op.kind == "pay"}
    for tip, op in sent_tips.items():
        n = tip_counts.get(tip, 0)
        if op.result == OK and n != 1:
            v.add("exactly_once", f"{node}: acked pay {op.cid} (tip {tip}) x{n}")
        elif op.result == FAIL and n:
            v.add("refusal_applied", f"{node}: refused pay {op.cid} ({op.error}) is applied x{n}")
        elif op.result == UNKNOWN and n > 1:
            v.add("exactly_once", f"{node}: pay {op.cid} (unknown) applied x{n}")
    for tip, n in tip_counts.items():
        if tip not in sent_tips:
            v.add("ghost", f"{node}: a payment with tip {tip} x{n} that no client sent")
    for op in ops:
        view = final.checks.get(op.check or "")
        if op.kind == "open_check":
            if op.result == OK and view is None:
                v.add("exactly_once", f"{node}: acked open_check {op.check} is missing")
            elif op.result == FAIL and view is not None:
                v.add("refusal_applied", f"{node}: refused open_check {op.check} exists")
        elif op.kind == "close_check" and op.result == OK:
            if view is None or view.get("status") != "closed":
                v.add("exactly_once", f"{node}: acked close of {op.check} but it is not closed")
        elif op.kind == "fire" and op.result == OK and view is not None:
            fired = (op.reply.get("outcome") or {}).get("lines", [])
            lines = {line["id"]: line for line in view.get("lines", [])}
            for line_id in fired:
                status = lines.get(line_id, {}).get("status")
                if status not in ("fired", "voided"):
                    v.add("exactly_once", f"{node}: acked fire {op.cid} line {line_id} is {status}")
    known_checks = {op.check for op in ops if op.kind == "open_check"}
    for check_id in final.checks:
        if check_id not in known_checks:
            v.add("ghost", f"{node}: check {check_id} that no client opened")
    tickets = {t["id"]: t for t in final.tickets}
    for op in ops:
        if op.kind == "bump" and op.result == OK:
            ticket = tickets.get(str(op.value.get("ticket")))
            if ticket is None or ticket.get("status") != "bumped":
                state = None if ticket is None else ticket.get("status")
                v.add("exactly_once", f"{node}: acked bump of {op.value.get('ticket')} is {state}")


def check_kitchen(v: Verdict, ops: list[Op], final: NodeState) -> None:
    """Every fired line: one ticket line at its station, one at expo; no ticket twice."""
    node = final.node
    stations_of: dict[str, str] = {}
    fired: set[str] = set()
    for check in final.checks.values():
        for line in check.get("lines", []):
            stations_of[line["id"]] = line["station"]
            if line.get("status") == "fired" or line.get("fired_at") is not None:
                fired.add(line["id"])
    at_station: Counter[str] = Counter()
    at_expo: Counter[str] = Counter()
    where: dict[str, list[str]] = {}
    for ticket in final.tickets:
        expo = ticket["station"] == "expo"
        for item in ticket.get("items", []):
            line_id = item["line"]
            where.setdefault(line_id, []).append(ticket["id"])
            if expo:
                at_expo[line_id] += 1
            else:
                at_station[line_id] += 1
                if stations_of.get(line_id) not in (None, ticket["station"]):
                    v.add(
                        "kitchen",
                        f"{node}: line {line_id} ({stations_of[line_id]}) on ticket "
                        f"{ticket['id']} of station {ticket['station']}",
                    )
    for line_id in fired:
        if at_station[line_id] != 1 or at_expo[line_id] != 1:
            v.add(
                "kitchen",
                f"{node}: fired line {line_id} is on {at_station[line_id]} station and "
                f"{at_expo[line_id]} expo ticket lines ({where.get(line_id)})",
            )
    for line_id in set(at_station) | set(at_expo):
        if line_id not in fired:
            v.add("kitchen", f"{node}: unfired line {line_id} is on tickets {where[line_id]}")
    tickets = {t["id"]: t for t in final.tickets}
    for op in ops:
        if op.kind != "fire" or op.result != OK:
            continue
        outcome = op.reply.get("outcome") or {}
        for ticket_id in outcome.get("tickets", []):
            found = tickets.get(ticket_id)
            if found is None:
                v.add("kitchen", f"{node}: ticket {ticket_id} of acked fire {op.cid} is missing")
            elif found.get("check") != op.check:
                v.add("kitchen", f"{node}: ticket {ticket_id} belongs to {found.get('check')}")


def check_replays(v: Verdict, ops: list[Op]) -> None:
    """A replay of an acknowledged id must answer the first outcome, marked duplicate;
    a command sent once must not be answered as a replay."""
    first = {op.cid: op for op in ops if op.kind != "replay" and op.result == OK}
    for op in first.values():
        if op.attempts == 1 and op.reply.get("duplicate"):
            v.add("replay", f"{op.cid}, sent once, was answered as a duplicate")
    for op in ops:
        if op.kind != "replay" or op.result != OK:
            continue
        orig = first.get(op.cid)
        if orig is None:
            continue
        if op.reply.get("duplicate") is not True or op.reply.get("index") != orig.reply.get(
            "index"
        ):
            v.add(
                "replay",
                f"replay of {op.cid} answered index {op.reply.get('index')} "
                f"duplicate={op.reply.get('duplicate')}; first was index {orig.reply.get('index')}",
            )


def lin_ops_for_check(ops: list[Op], check: str, finals: list[NodeState]) -> list[LinOp]:
    """The check's history in the model's terms, plus each node's final read of it."""
    out: list[LinOp] = []
    for op in ops:
        if op.check != check or op.kind not in LIN_KINDS or op.result == FAIL:
            continue
        resp: dict[str, Any] | None = None
        if op.result == OK:
            resp = dict(op.reply.get("outcome") or {})
        out.append(
            LinOp(id=op.seq, kind=op.kind, call=op.invoke, ret=op.complete, arg=op.value, resp=resp)
        )
    end = max([op.complete or op.invoke for op in ops], default=0.0) + 1.0
    for k, final in enumerate(finals):
        view = final.checks.get(check)
        if view is None:
            continue
        read = {
            "notes": [line.get("note", "") for line in view.get("lines", [])],
            "tips": [int(p.get("tip", 0)) for p in view.get("payments", [])],
            "total": (view.get("totals") or {}).get("total", view.get("total")),
            "paid": (view.get("totals") or {}).get("paid"),
            "status": view.get("status"),
        }
        t = end + k
        out.append(LinOp(id=-(k + 1), kind="read", call=t, ret=t + 0.5, resp=read))
    return out


def check_linearizability(v: Verdict, ops: list[Op], finals: list[NodeState]) -> None:
    model = CheckModel()
    for check in sorted(by_check(ops)):
        if not any(op.kind == "open_check" and op.check == check for op in ops):
            continue
        lin = lin_ops_for_check(ops, check, finals)
        result: LinResult = check_linearizable(model, lin)
        if result.ok:
            v.linearizable_checks += 1
        elif not result.conclusive:
            v.inconclusive_checks += 1
            v.notes.append(f"check {check}: {result.reason}")
        else:
            v.add(
                "linearizability",
                f"check {check}: {result.reason}; linearized {list(result.order)}, "
                f"could not place {list(result.stuck)}",
            )


def check_numbers(v: Verdict, finals: list[NodeState]) -> None:
    """Check numbers: unique and gap-free per site, once the cloud numbered them."""
    numbered = [
        (c["id"], c["number"]) for f in finals[:1] for c in f.checks.values() if c.get("number")
    ]
    if not numbered:
        v.notes.append("check numbers not checked: no check was numbered (no cloud in this run)")
        return
    numbers = sorted(int(n) for _, n in numbered)
    if len(set(numbers)) != len(numbers):
        dup = [n for n, k in Counter(numbers).items() if k > 1]
        v.add("check_numbers", f"numbers used twice: {dup[:10]}")
    gaps = [n for n in range(numbers[0], numbers[-1] + 1) if n not in set(numbers)]
    if gaps:
        v.add("check_numbers", f"gaps in check numbers: {gaps[:10]}")
    unnumbered = sum(1 for c in finals[0].checks.values() if not c.get("number"))
    v.notes.append(
        f"check numbers: {len(numbers)} checks numbered {numbers[0]}..{numbers[-1]}, "
        f"{unnumbered} without a number"
    )
