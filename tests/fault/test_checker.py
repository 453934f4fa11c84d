"""The run checker on hand-made histories and final states, and the schedule's determinism.

Each violation the checker exists for is produced here on purpose: a lost
acknowledged write, a double apply, a refused command that was applied anyway,
a line nobody sent, a ticket fired twice, nodes that disagree, a replay that was
not a duplicate. A clean run must pass.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.fault.checker import NodeState, check_run
from tests.fault.history import FAIL, OK, UNKNOWN, History, Op
from tests.fault.schedule import make_schedule
from tests.fault.workload import contribution

BURGER = [{"item": "burger", "qty": 1, "modifiers": []}]
FRIES = [{"item": "fries", "qty": 2, "modifiers": []}]


def op(
    seq: int,
    kind: str,
    cid: str,
    result: str,
    *,
    check: str = "Z0-1X",
    t: float = 0.0,
    value: dict[str, Any] | None = None,
    reply: dict[str, Any] | None = None,
    error: str | None = None,
) -> Op:
    return Op(
        seq=seq,
        client="c0",
        kind=kind,
        cid=cid,
        check=check,
        node="n1",
        invoke=t,
        complete=None if result == UNKNOWN else t + 0.5,
        result=result,
        value=value or {},
        reply=reply or {},
        error=error,
    )


def line(line_id: str, note: str, station: str, status: str = "new") -> dict[str, Any]:
    return {
        "id": line_id,
        "note": note,
        "station": station,
        "status": status,
        "fired_at": 5 if status == "fired" else None,
    }


def clean_run() -> tuple[list[Op], list[NodeState]]:
    """Open, add a burger and fries, fire, pay all, close; a kitchen bump. All acknowledged."""
    burger, fries = contribution(BURGER), contribution(FRIES)
    total = burger + fries
    ops = [
        op(1, "open_check", "o1", OK, t=0, reply={"ok": True, "index": 3, "outcome": {}}),
        op(
            2,
            "add_items",
            "a1",
            OK,
            t=1,
            value={"notes": ["a1#0"], "amount": burger},
            reply={"ok": True, "index": 4, "outcome": {"total": burger, "balance": burger}},
        ),
        op(
            3,
            "add_items",
            "a2",
            OK,
            t=2,
            value={"notes": ["a2#0"], "amount": fries},
            reply={"ok": True, "index": 5, "outcome": {"total": total, "balance": total}},
        ),
        op(
            4,
            "fire",
            "f1",
            OK,
            t=3,
            reply={
                "ok": True,
                "index": 6,
                "outcome": {"lines": ["L1", "L2"], "tickets": ["K1", "K2", "K3"]},
            },
        ),
        op(
            5,
            "pay",
            "p1",
            OK,
            t=4,
            value={"amount": None, "tip": 1},
            reply={"ok": True, "index": 7, "outcome": {"amount": total, "balance": 0}},
        ),
        op(
            6,
            "close_check",
            "c1",
            OK,
            t=5,
            reply={"ok": True, "index": 8, "outcome": {"total": total}},
        ),
        op(
            7,
            "bump",
            "b1",
            OK,
            check="",
            t=6,
            value={"ticket": "K1"},
            reply={"ok": True, "index": 9, "outcome": {"status": "bumped"}},
        ),
    ]
    ops[6].check = None
    view = {
        "id": "Z0-1X",
        "status": "closed",
        "total": total,
        "lines": [line("L1", "a1#0", "grill", "fired"), line("L2", "a2#0", "fry", "fired")],
        "payments": [{"id": "P1", "amount": total, "tip": 1}],
        "totals": {"total": total, "paid": total},
    }
    tickets = [
        {
            "id": "K1",
            "check": "Z0-1X",
            "station": "grill",
            "status": "bumped",
            "items": [{"line": "L1"}],
        },
        {
            "id": "K2",
            "check": "Z0-1X",
            "station": "fry",
            "status": "open",
            "items": [{"line": "L2"}],
        },
        {
            "id": "K3",
            "check": "Z0-1X",
            "station": "expo",
            "status": "open",
            "items": [{"line": "L1"}, {"line": "L2"}],
        },
    ]
    finals = [
        NodeState(
            node=n,
            applied_index=9,
            commit_index=9,
            state_hash="h",
            checks={"Z0-1X": copy.deepcopy(view)},
            tickets=copy.deepcopy(tickets),
        )
        for n in ("n1", "n2", "n3")
    ]
    return ops, finals


def test_a_clean_run_passes() -> None:
    ops, finals = clean_run()
    verdict = check_run(ops, finals)
    assert verdict.ok, verdict.report()
    assert verdict.linearizable_checks == 1
    assert any("check numbers not checked" in n for n in verdict.notes)


def test_a_lost_acknowledged_write_fails_the_run() -> None:
    ops, finals = clean_run()
    view = finals[2].checks["Z0-1X"]
    view["lines"] = [ln for ln in view["lines"] if ln["note"] != "a2#0"]
    verdict = check_run(ops, finals)
    assert "exactly_once" in verdict.counts
    assert "linearizability" in verdict.counts
    assert any("n3" in e and "a2" in e for e in verdict.problems["exactly_once"])


def test_a_double_apply_fails_the_run() -> None:
    ops, finals = clean_run()
    for final in finals:
        final.checks["Z0-1X"]["lines"].append(line("L9", "a1#0", "grill"))
    verdict = check_run(ops, finals)
    assert verdict.counts["exactly_once"] == 3  # once per node
    assert "linearizability" in verdict.counts


def test_a_refused_command_that_was_applied_fails_the_run() -> None:
    ops, finals = clean_run()
    ops.append(
        op(
            8,
            "add_items",
            "a3",
            FAIL,
            t=7,
            value={"notes": ["a3#0"], "amount": 1},
            reply={"ok": False, "index": 10},
            error="check_closed",
        )
    )
    finals[0].checks["Z0-1X"]["lines"].append(line("L3", "a3#0", "grill"))
    verdict = check_run(ops, finals)
    assert "refusal_applied" in verdict.counts


def test_an_unknown_command_may_be_applied_once_but_not_twice() -> None:
    ops, finals = clean_run()
    ops.append(op(8, "pay", "p2", UNKNOWN, t=4.2, value={"amount": 100, "tip": 2}))
    assert check_run(ops, finals).ok  # never applied: fine
    for final in finals:
        final.checks["Z0-1X"]["payments"].extend([{"id": "P7", "amount": 100, "tip": 2}] * 2)
    assert "exactly_once" in check_run(ops, finals).counts


def test_something_no_client_sent_is_a_ghost() -> None:
    ops, finals = clean_run()
    finals[1].checks["Z0-1X"]["lines"].append(line("L8", "nobody#0", "cold"))
    assert "ghost" in check_run(ops, finals).counts


def test_a_line_on_two_tickets_of_its_station_fails_the_run() -> None:
    ops, finals = clean_run()
    finals[0].tickets.append(
        {
            "id": "K4",
            "check": "Z0-1X",
            "station": "grill",
            "status": "open",
            "items": [{"line": "L1"}],
        }
    )
    verdict = check_run(ops, finals)
    assert "kitchen" in verdict.counts
    assert any("L1" in e for e in verdict.problems["kitchen"])


def test_a_fired_line_missing_from_expo_fails_the_run() -> None:
    ops, finals = clean_run()
    finals[0].tickets[2]["items"] = [{"line": "L1"}]
    assert "kitchen" in check_run(ops, finals).counts


def test_nodes_that_disagree_fail_the_run() -> None:
    ops, finals = clean_run()
    finals[1].state_hash = "other"
    assert "convergence" in check_run(ops, finals).counts
    assert "convergence" in check_run(*clean_run(), converged=False).counts


def test_a_replay_that_is_not_a_duplicate_fails_the_run() -> None:
    ops, finals = clean_run()
    ops.append(
        op(
            9,
            "replay",
            "a1",
            OK,
            t=8,
            value={"of": 2},
            reply={"ok": True, "index": 4, "duplicate": True},
        )
    )
    assert check_run(ops, finals).ok
    ops.append(op(10, "replay", "a1", OK, t=9, value={"of": 2}, reply={"ok": True, "index": 12}))
    assert "replay" in check_run(ops, finals).counts


def test_a_command_sent_once_and_answered_as_a_duplicate_fails_the_run() -> None:
    ops, finals = clean_run()
    sent = next(o for o in ops if o.result == OK)
    sent.attempts = 2  # a retry may be told its first try was applied
    sent.reply = {**sent.reply, "duplicate": True}
    assert check_run(ops, finals).ok
    sent.attempts = 1
    assert "replay" in check_run(ops, finals).counts


def test_an_acknowledged_bump_that_did_not_stick_fails_the_run() -> None:
    ops, finals = clean_run()
    finals[2].tickets[0]["status"] = "open"
    assert "exactly_once" in check_run(ops, finals).counts


def test_check_numbers_must_be_unique_and_gap_free_when_present() -> None:
    ops, finals = clean_run()
    for final in finals:
        final.checks["Z0-1X"]["number"] = 1001
    assert check_run(ops, finals).ok
    extra = {"id": "Z0-2Y", "number": 1003, "lines": [], "payments": [], "status": "open"}
    for final in finals:
        final.checks["Z0-2Y"] = dict(extra)
    verdict = check_run(ops, finals)
    assert "check_numbers" in verdict.counts  # 1002 is missing
    assert "ghost" in verdict.counts  # and nobody opened Z0-2Y


def test_the_history_round_trips_through_json_lines(tmp_path: Any) -> None:
    from tests.fault.history import read_jsonl

    history = History()
    first = history.invoke(
        client="c0",
        kind="add_items",
        cid="x",
        check="Z0-1X",
        node="n1",
        value={"notes": ["x#0"], "amount": 5},
    )
    history.settle(
        first, OK, {"ok": True, "index": 4, "outcome": {"total": 5, "big": [1] * 99}}, None
    )
    second = history.invoke(client="c1", kind="pay", cid="y", check="Z0-1X", node="n2")
    history.settle(second, UNKNOWN, {"ok": False, "error": {"code": "timeout"}}, "timeout")
    history.write_jsonl(tmp_path / "h.jsonl")
    back = read_jsonl(tmp_path / "h.jsonl")
    assert [o.cid for o in back] == ["x", "y"]
    assert back[0].reply["outcome"] == {"total": 5}  # trimmed to what the checker reads
    assert back[1].complete is None and back[1].result == UNKNOWN


@pytest.mark.parametrize("seed", [1, 2, 42, 1234])
def test_the_schedule_is_a_pure_function_of_the_seed(seed: int) -> None:
    a, b = make_schedule(seed), make_schedule(seed)
    assert a == b
    assert a.describe() == b.describe()
    assert 3 <= a.nodes <= 7
    for fault in a.faults:
        assert fault.start > 0 and fault.end <= a.duration
        if fault.kind == "partition":
            assert len(fault.targets) * 2 < a.nodes  # a minority
    assert make_schedule(seed + 1) != a


def test_seeds_cover_every_kind_of_fault() -> None:
    kinds = {f.kind for seed in range(30) for f in make_schedule(seed).faults}
    assert kinds == {"kill", "pause", "partition", "netem", "clock", "disk", "dup", "cloud"}
