"""A Wing & Gong style linearizability checker, with the model of one check.

A history is linearizable when every completed operation can be given a single
point in time between its invocation and its completion, such that the
operations, taken in that order, are legal steps of a sequential model and
return what the clients saw. Operations that never completed (``ret`` is None:
a timeout, a dead node) may take effect at any point after their invocation, or
never.

The search (Wing & Gong 1993, with the memoisation of Lowe 2017 as in Knossos and
Porcupine): from the set of operations linearized so far and the model state,
try as the next one every operation that real time allows (no other pending
operation completed before it was invoked); a (set, state) pair already seen is
not explored again. The search is bounded by ``budget`` visited states so a
pathological history gives an inconclusive answer instead of a hang.

The check model (``CheckModel``): a check's lines (by note: each ``add_items``
puts its command id in the note of its lines) and payments (by tip: each ``pay``
carries a tip unique in the run), its running total and amount paid, and whether
it is closed. Operations: ``open_check``, ``add_items``, ``pay``, ``close_check``,
``read`` (the check as a node shows it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

S = TypeVar("S")

DEFAULT_BUDGET = 200_000  # visited (set, state) pairs before the search gives up


@dataclass(frozen=True, slots=True)
class LinOp:
    """One operation of a single object's history."""

    id: int
    kind: str
    call: float
    ret: float | None  # None: never completed (may or may not have taken effect)
    arg: dict[str, Any] = field(default_factory=dict)
    resp: dict[str, Any] | None = None  # what the client saw (None when unknown)


@dataclass(frozen=True, slots=True)
class LinResult:
    ok: bool
    conclusive: bool  # False when the budget ran out before an answer
    explored: int
    order: tuple[int, ...] = ()  # a witness order when ok; the deepest prefix found otherwise
    stuck: tuple[int, ...] = ()  # completed ops that no extension of the deepest prefix could place
    reason: str = ""


class Model(Generic[S]):
    """A sequential specification: an initial state and a step function."""

    def initial(self) -> S:
        raise NotImplementedError

    def step(self, state: S, op: LinOp) -> tuple[bool, S]:
        """(is ``op`` legal from ``state`` with the response it got, the state after it)."""
        raise NotImplementedError


def check_linearizable(
    model: Model[S], ops: Sequence[LinOp], budget: int = DEFAULT_BUDGET
) -> LinResult:
    """Search for a linearization of ``ops`` under ``model`` (see the module docstring)."""
    ops = sorted(ops, key=lambda o: (o.call, o.id))
    n = len(ops)
    inf = float("inf")
    rets = [inf if o.ret is None else o.ret for o in ops]
    must = 0  # bitmask of the ops that must be linearized (the completed ones)
    for i, o in enumerate(ops):
        if o.ret is not None:
            must |= 1 << i
    start = model.initial()
    stack: list[tuple[int, S, tuple[int, ...]]] = [(0, start, ())]
    seen: set[tuple[int, Any]] = set()
    explored = 0
    deepest: tuple[int, ...] = ()
    while stack:
        done, state, order = stack.pop()
        key = (done, state)
        if key in seen:
            continue
        seen.add(key)
        explored += 1
        if explored > budget:
            return LinResult(
                ok=False,
                conclusive=False,
                explored=explored,
                order=tuple(ops[i].id for i in deepest),
                reason=f"search budget of {budget} states exhausted",
            )
        if done & must == must:
            return LinResult(
                ok=True, conclusive=True, explored=explored, order=tuple(ops[i].id for i in order)
            )
        if len(order) > len(deepest):
            deepest = order
        # Real time: an op may go next only if no other pending op completed before its call.
        horizon = min((rets[i] for i in range(n) if not done >> i & 1), default=inf)
        for i in range(n - 1, -1, -1):
            if done >> i & 1 or ops[i].call > horizon:
                continue
            legal, after = model.step(state, ops[i])
            if legal:
                stack.append((done | 1 << i, after, (*order, i)))
    placed = 0
    for i in deepest:
        placed |= 1 << i
    stuck = tuple(ops[i].id for i in range(n) if must >> i & 1 and not placed >> i & 1)
    return LinResult(
        ok=False,
        conclusive=True,
        explored=explored,
        order=tuple(ops[i].id for i in deepest),
        stuck=stuck,
        reason="no linearization: every order contradicts what some client saw",
    )


# -- the check model ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckState:
    opened: bool = False
    closed: bool = False
    total: int = 0
    paid: int = 0
    notes: tuple[str, ...] = ()  # sorted; a note twice would be a double apply
    tips: tuple[int, ...] = ()  # sorted


def _insert(items: tuple[Any, ...], new: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(sorted((*items, *new)))


class CheckModel(Model[CheckState]):
    """One check: its lines, payments, total, amount paid and status."""

    def initial(self) -> CheckState:
        return CheckState()

    def step(self, s: CheckState, op: LinOp) -> tuple[bool, CheckState]:
        handler: Callable[[CheckState, LinOp], tuple[bool, CheckState]] | None = getattr(
            self, f"_{op.kind}", None
        )
        if handler is None:
            raise ValueError(f"the check model has no operation {op.kind!r}")
        return handler(s, op)

    @staticmethod
    def _open_check(s: CheckState, op: LinOp) -> tuple[bool, CheckState]:
        return (not s.opened, CheckState(opened=True))

    @staticmethod
    def _add_items(s: CheckState, op: LinOp) -> tuple[bool, CheckState]:
        if not s.opened or s.closed:
            return False, s
        total = s.total + int(op.arg["amount"])
        r = op.resp
        if r is not None and (r.get("total") != total or r.get("balance") != total - s.paid):
            return False, s
        after = CheckState(
            opened=True,
            total=total,
            paid=s.paid,
            notes=_insert(s.notes, op.arg["notes"]),
            tips=s.tips,
        )
        return True, after

    @staticmethod
    def _pay(s: CheckState, op: LinOp) -> tuple[bool, CheckState]:
        due = s.total - s.paid
        if not s.opened or s.closed or due <= 0:
            return False, s
        amount = op.arg.get("amount")
        amount = due if amount is None else int(amount)
        if amount > due:
            return False, s
        r = op.resp
        if r is not None and (r.get("amount") != amount or r.get("balance") != due - amount):
            return False, s
        after = CheckState(
            opened=True,
            total=s.total,
            paid=s.paid + amount,
            notes=s.notes,
            tips=_insert(s.tips, [int(op.arg["tip"])]),
        )
        return True, after

    @staticmethod
    def _close_check(s: CheckState, op: LinOp) -> tuple[bool, CheckState]:
        if not s.opened or s.closed or s.total != s.paid:
            return False, s
        r = op.resp
        if r is not None and r.get("total") not in (None, s.total):
            return False, s
        return True, CheckState(
            opened=True, closed=True, total=s.total, paid=s.paid, notes=s.notes, tips=s.tips
        )

    @staticmethod
    def _read(s: CheckState, op: LinOp) -> tuple[bool, CheckState]:
        r = op.resp or {}
        same = (
            s.opened
            and tuple(sorted(r.get("notes", ()))) == s.notes
            and tuple(sorted(r.get("tips", ()))) == s.tips
            and r.get("total") == s.total
            and r.get("paid") == s.paid
            and (r.get("status") == "closed") == s.closed
        )
        return same, s
