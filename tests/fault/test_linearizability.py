"""The linearizability checker on hand-made histories: ones that are, and ones that are not.

A checker that cannot fail proves nothing, so most cases here are violations it
must catch: a lost write, a double apply, a stale read, an order that breaks
real time, a payment the model cannot explain.
"""

from __future__ import annotations

from typing import Any

from tests.fault.linearizability import (
    CheckModel,
    LinOp,
    LinResult,
    Model,
    check_linearizable,
)

MODEL = CheckModel()


def open_(i: int, call: float, ret: float | None) -> LinOp:
    return LinOp(i, "open_check", call, ret, {}, {} if ret is not None else None)


def add(
    i: int,
    call: float,
    ret: float | None,
    amount: int,
    total: int | None,
    paid: int = 0,
    note: str | None = None,
) -> LinOp:
    resp = None if total is None else {"total": total, "balance": total - paid}
    return LinOp(i, "add_items", call, ret, {"notes": [note or f"a{i}#0"], "amount": amount}, resp)


def pay(
    i: int,
    call: float,
    ret: float | None,
    amount: int | None,
    tip: int,
    resp: dict[str, Any] | None,
) -> LinOp:
    return LinOp(i, "pay", call, ret, {"amount": amount, "tip": tip}, resp)


def read(
    i: int,
    at: float,
    notes: list[str],
    total: int,
    paid: int = 0,
    tips: list[int] | None = None,
    status: str = "open",
) -> LinOp:
    resp = {"notes": notes, "tips": tips or [], "total": total, "paid": paid, "status": status}
    return LinOp(i, "read", at, at + 0.1, {}, resp)


def check(ops: list[LinOp]) -> LinResult:
    return check_linearizable(MODEL, ops)


def test_a_sequential_history_is_linearizable() -> None:
    ops = [
        open_(1, 0, 1),
        add(2, 2, 3, 500, 500),
        add(3, 4, 5, 300, 800),
        pay(4, 6, 7, 200, 11, {"amount": 200, "balance": 600}),
        pay(5, 8, 9, None, 12, {"amount": 600, "balance": 0}),
        LinOp(6, "close_check", 10, 11, {}, {"total": 800}),
        read(7, 12, ["a2#0", "a3#0"], 800, 800, [11, 12], "closed"),
    ]
    result = check(ops)
    assert result.ok and result.conclusive
    assert result.order == (1, 2, 3, 4, 5, 6, 7)


def test_concurrent_adds_may_take_effect_in_either_order() -> None:
    # Both overlap; the totals say 3 went first. Only that order explains them.
    ops = [
        open_(1, 0, 1),
        add(2, 2, 6, 500, 800),
        add(3, 2.5, 5, 300, 300),
        read(4, 7, ["a2#0", "a3#0"], 800),
    ]
    result = check(ops)
    assert result.ok
    assert result.order.index(3) < result.order.index(2)


def test_a_lost_write_is_caught() -> None:
    # The add was acknowledged, yet the final read does not show it.
    ops = [
        open_(1, 0, 1),
        add(2, 2, 3, 500, 500),
        add(3, 4, 5, 300, 800),
        read(4, 6, ["a2#0"], 500),
    ]
    result = check(ops)
    assert not result.ok and result.conclusive
    assert 4 in result.stuck


def test_a_double_apply_is_caught() -> None:
    # One acknowledged add shows up as two lines (and twice the money).
    ops = [open_(1, 0, 1), add(2, 2, 3, 500, 500), read(3, 4, ["a2#0", "a2#0"], 1000)]
    assert not check(ops).ok


def test_a_double_apply_seen_in_a_later_total_is_caught() -> None:
    # The second add's total counts the first one twice.
    ops = [open_(1, 0, 1), add(2, 2, 3, 500, 500), add(3, 4, 5, 300, 1300)]
    assert not check(ops).ok


def test_a_stale_read_is_caught() -> None:
    # The add completed before the read began, but the read does not see it.
    ops = [open_(1, 0, 1), add(2, 2, 3, 500, 500), read(3, 4, [], 0)]
    assert not check(ops).ok


def test_a_read_concurrent_with_an_add_may_or_may_not_see_it() -> None:
    base = [open_(1, 0, 1), add(2, 2, 6, 500, 500)]
    assert check([*base, read(3, 3, [], 0)]).ok
    assert check([*base, read(3, 3, ["a2#0"], 500)]).ok


def test_real_time_order_is_respected() -> None:
    # 2 finished before 3 began, but the totals claim 3 took effect first.
    ops = [open_(1, 0, 1), add(2, 2, 3, 500, 800), add(3, 4, 5, 300, 300)]
    result = check(ops)
    assert not result.ok


def test_an_unknown_operation_may_apply_once_or_never() -> None:
    base = [open_(1, 0, 1), add(2, 2, None, 500, None)]
    assert check([*base, read(3, 10, [], 0)]).ok
    assert check([*base, read(3, 10, ["a2#0"], 500)]).ok
    assert not check([*base, read(3, 10, ["a2#0", "a2#0"], 1000)]).ok


def test_an_unknown_operation_cannot_take_effect_before_it_was_invoked() -> None:
    # The add (unknown) was invoked at 5; a read that ended at 4 cannot have seen it.
    ops = [open_(1, 0, 1), add(2, 5, None, 500, None), read(3, 3, ["a2#0"], 500)]
    assert not check(ops).ok


def test_a_payment_the_balance_cannot_explain_is_caught() -> None:
    ops = [
        open_(1, 0, 1),
        add(2, 2, 3, 500, 500),
        pay(3, 4, 5, 200, 7, {"amount": 200, "balance": 200}),  # should leave 300 due
    ]
    assert not check(ops).ok


def test_an_add_acknowledged_after_a_close_is_caught() -> None:
    ops = [
        open_(1, 0, 1),
        add(2, 2, 3, 500, 500),
        pay(3, 4, 5, None, 7, {"amount": 500, "balance": 0}),
        LinOp(4, "close_check", 6, 7, {}, {"total": 500}),
        add(5, 8, 9, 300, 800, paid=500),
    ]
    assert not check(ops).ok


def test_a_payment_applied_twice_is_caught() -> None:
    ops = [
        open_(1, 0, 1),
        add(2, 2, 3, 500, 500),
        pay(3, 4, 5, 100, 7, {"amount": 100, "balance": 400}),
        read(4, 6, ["a2#0"], 500, 200, [7, 7]),
    ]
    assert not check(ops).ok


class Counter(Model[int]):
    """A register that only grows: every op adds one; used to blow up the search."""

    def initial(self) -> int:
        return 0

    def step(self, state: int, op: LinOp) -> tuple[bool, int]:
        return op.resp is None or op.resp.get("n") == state + 1, state + 1


def test_the_search_is_bounded_and_says_when_it_gave_up() -> None:
    # Twenty concurrent unknown ops and a read nothing can explain: many subsets to try.
    ops = [LinOp(i, "inc", 0.0, None, {}, None) for i in range(20)]
    ops.append(LinOp(99, "inc", 1.0, 2.0, {}, {"n": 100}))
    result = check_linearizable(Counter(), ops, budget=2_000)
    assert not result.ok and not result.conclusive
    assert "budget" in result.reason
