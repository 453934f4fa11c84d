"""Random shifts on the floor keep the ledger's invariants (hypothesis stateful tests).

Invariants checked after every step:
- a check's balance = items - voids - comps + tax - payments, and never below zero;
- a closed check takes no changes to its lines, payments or totals;
- no (station, line) appears on two ordinary tickets, and each fired line is on
  exactly one ordinary station ticket; a refire ticket names an original of its station;
- a rejected command and a duplicate id change nothing;
and at the end of each run:
- replaying the log on two fresh states gives the same hash as the live state;
- snapshot + restore at a midpoint + the rest of the log gives the same hash.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mesh.ledger import LedgerState, apply, queries
from mesh.ledger.money import exclusive_tax
from mesh.ledger.records import CheckRec
from mesh.ledger.state import DEDUP_KEEP_ENTRIES, DEDUP_WINDOW_MS
from tests.ledger.ledger_harness import MINUTE, Till, domain

ITEMS = ["burger", "ribeye", "ipa", "wine", "fries", "cake", "soda", "water", "old-fashioned"]
MODS = {
    "burger": ["mod-bacon", "mod-cheese"],
    "old-fashioned": ["mod-double"],
    "fries": ["mod-truffle"],
}
SERVERS = ["s-ana", "s-ben", "b-cleo", "m-eve"]
pick = st.integers(min_value=0, max_value=10_000)


def expected_balance(check: CheckRec) -> int:
    """The balance, recomputed here from first principles (not with money.check_totals)."""
    items = sum(x["unit_price"] * x["qty"] for x in check["lines"])
    voids = sum(x["unit_price"] * x["qty"] for x in check["lines"] if x["status"] == "voided")
    comps = sum(
        x["unit_price"] * x["qty"]
        for x in check["lines"]
        if x["status"] != "voided" and x["comp"] is not None
    )
    tax = sum(
        exclusive_tax(x["unit_price"] * x["qty"], x["tax_rate_bp"])
        for x in check["lines"]
        if x["status"] != "voided" and x["comp"] is None and x["tax"] and not x["tax_inclusive"]
    )
    paid = sum(p["amount"] for p in check["payments"])
    return items - voids - comps + tax - paid


def frozen_part(check: CheckRec) -> str:
    return json.dumps([check["lines"], check["payments"], check["status"]], sort_keys=True)


class Shift(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.till = Till()
        self.sent: list[dict[str, Any]] = []
        self.closed: dict[str, str] = {}
        self.rejections = 0

    # -- helpers --------------------------------------------------------------------------

    def send(
        self, ctype: str, *, by: str = "s-ana", advance_ms: int = 5_000, **fields: Any
    ) -> None:
        self.till.ids += 1
        command = {"type": ctype, "id": f"c{self.till.ids}", "by": by, **fields}
        before = domain(self.till.state)
        outcome = self.till.entry(command, advance_ms=advance_ms)
        self.sent.append(command)
        event(f"{ctype}: {'ok' if outcome.ok else outcome.error.code if outcome.error else '?'}")
        if not outcome.ok:
            self.rejections += 1
            assert domain(self.till.state) == before, f"rejected {ctype} changed the state"
        if ctype == "reopen_check" and outcome.ok:
            self.closed.pop(outcome.result["check"], None)

    def check_ids(self) -> list[str]:
        return sorted(self.till.state.checks)

    def choose(self, options: list[Any], n: int) -> Any:
        return options[n % len(options)] if options else None

    def a_check(self, n: int) -> str:
        """Mostly an open check (where the action is), sometimes any, rarely an unknown one."""
        state = self.till.state
        open_ids = [c for c in self.check_ids() if state.checks[c]["status"] == "open"]
        if n % 10 == 0:
            return "7QK-5D"
        found = self.choose(open_ids if open_ids and n % 4 else self.check_ids(), n // 10)
        return found if found is not None else "7QK-5D"

    def a_line(self, check: str, n: int) -> str:
        rec = self.till.state.checks.get(check)
        lines = [x["id"] for x in rec["lines"]] if rec else []
        return self.choose(lines, n) or "L1"

    # -- rules ----------------------------------------------------------------------------

    @initialize()
    def two_tables_seated(self) -> None:
        for table in ("1", "2"):
            check = self.till.new_check_id()
            self.send("open_check", check=check, table=table, guests=2)
            self.send("add_items", check=check, items=[{"item": "burger"}, {"item": "ipa"}])

    @rule(table=st.sampled_from(["1", "2", "12", "bar"]), guests=st.integers(1, 6), who=pick)
    def open_check(self, table: str, guests: int, who: int) -> None:
        self.send(
            "open_check",
            by=self.choose(SERVERS, who),
            check=self.till.new_check_id(),
            table=table,
            guests=guests,
        )

    @rule(
        n=pick,
        orders=st.lists(
            st.tuples(
                st.sampled_from(ITEMS), st.integers(1, 3), st.integers(0, 4), st.integers(1, 3),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
        ),
    )  # fmt: skip
    def add_items(self, n: int, orders: list[tuple[str, int, int, int, bool]]) -> None:
        items = [
            {
                "item": item,
                "qty": qty,
                "seat": seat,
                "course": course,
                "modifiers": MODS.get(item, [])[:1] if mod else [],
            }
            for item, qty, seat, course, mod in orders
        ]
        self.send("add_items", check=self.a_check(n), items=items)

    @rule(n=pick, m=pick, approve=st.booleans())
    def void_item(self, n: int, m: int, approve: bool) -> None:
        check = self.a_check(n)
        extra: dict[str, Any] = {"approved_by": "m-eve"} if approve else {}
        self.send("void_item", check=check, line=self.a_line(check, m), reason="test", **extra)

    @rule(n=pick, course=st.none() | st.integers(1, 3))
    def fire(self, n: int, course: int | None) -> None:
        fields: dict[str, Any] = {} if course is None else {"course": course}
        self.send("fire", check=self.a_check(n), **fields)

    @rule(n=pick, m=pick, k=st.integers(1, 3), by=st.sampled_from(["s-ana", "k-dev"]))
    def refire(self, n: int, m: int, k: int, by: str) -> None:
        check = self.a_check(n)
        lines = sorted({self.a_line(check, m + j) for j in range(k)})
        self.send("refire", by=by, check=check, lines=lines, reason="sent back")

    @rule(n=pick, course=st.integers(1, 3))
    def hold_course(self, n: int, course: int) -> None:
        self.send("hold_course", check=self.a_check(n), course=course)

    @rule(
        n=pick,
        tender=st.sampled_from(["cash", "voucher", "card"]),
        amount=st.none() | st.integers(1, 3000),
        tip=st.integers(0, 500),
        extra_cash=st.none() | st.integers(0, 5000),
    )
    def pay(
        self, n: int, tender: str, amount: int | None, tip: int, extra_cash: int | None
    ) -> None:
        fields: dict[str, Any] = {"tip": tip}
        if amount is not None:
            fields["amount"] = amount
        if tender == "cash" and extra_cash is not None and amount is not None:
            fields["tendered"] = amount + tip + extra_cash
        self.send("pay", check=self.a_check(n), tender=tender, **fields)

    @rule(n=pick)
    def close_check(self, n: int) -> None:
        check = self.a_check(n)
        self.send("close_check", check=check)
        rec = self.till.state.checks.get(check)
        if rec is not None and rec["status"] == "closed":
            self.closed[check] = frozen_part(rec)

    @rule(n=pick)
    def settle_and_close(self, n: int) -> None:
        check = self.a_check(n)
        self.send("pay", check=check, tender="cash", tendered=10_000)
        self.close_check(n)

    @rule(n=pick)
    def recall_the_last_bumped(self, n: int) -> None:
        bumped = [t for t in self.till.state.tickets.values() if t["status"] == "bumped"]
        if bumped:
            last = max(bumped, key=lambda t: (t["bumped_at"] or 0, t["id"]))
            self.send("recall", by="k-dev", ticket=last["id"], advance_ms=(n % 3) * 20 * MINUTE)

    @rule(n=pick)
    def reopen_check(self, n: int) -> None:
        self.send("reopen_check", check=self.a_check(n), reason="test", approved_by="m-eve")

    @rule(n=pick, m=pick, approve=st.booleans())
    def comp(self, n: int, m: int, approve: bool) -> None:
        check = self.a_check(n)
        extra: dict[str, Any] = {"approved_by": "m-eve"} if approve else {}
        self.send("comp", check=check, line=self.a_line(check, m), reason="test", **extra)

    @rule(n=pick, m=pick, by_seat=st.booleans(), seat=st.integers(0, 4))
    def split_check(self, n: int, m: int, by_seat: bool, seat: int) -> None:
        check = self.a_check(n)
        part: dict[str, Any] = {"new_check": self.till.new_check_id()}
        if by_seat:
            part["seats"] = [seat]
        else:
            part["lines"] = [self.a_line(check, m)]
        self.send("split_check", check=check, parts=[part])

    @rule(n=pick, who=pick, table=st.none() | st.sampled_from(["5", "6"]))
    def transfer_check(self, n: int, who: int, table: str | None) -> None:
        fields: dict[str, Any] = {"to_server": self.choose(SERVERS, who)}
        if table is not None:
            fields["to_table"] = table
        self.send("transfer_check", check=self.a_check(n), **fields)

    @rule(n=pick, m=pick, whole=st.booleans())
    def bump(self, n: int, m: int, whole: bool) -> None:
        ticket = self.choose(sorted(self.till.state.tickets), n)
        if ticket is None:
            return
        fields: dict[str, Any] = {}
        if not whole:
            items = self.till.state.tickets[ticket]["items"]
            fields["line"] = self.choose(items, m)["line"]
        self.send("bump", by="k-dev", ticket=ticket, **fields)

    @rule(n=pick)
    def recall(self, n: int) -> None:
        ticket = self.choose(sorted(self.till.state.tickets), n)
        if ticket is not None:
            self.send("recall", by="k-dev", ticket=ticket)

    @rule(item=st.sampled_from(["ribeye", "ipa"]), available=st.booleans())
    def eighty_six(self, item: str, available: bool) -> None:
        self.send("eighty_six", by="k-dev", item=item, available=available)

    @rule(who=pick, clock_in=st.booleans())
    def time_clock(self, who: int, clock_in: bool) -> None:
        self.send("clock_in" if clock_in else "clock_out", by=self.choose(SERVERS, who))

    @rule(minutes=st.integers(1, 120))
    def time_passes(self, minutes: int) -> None:
        self.send("no_sale", by="m-eve", advance_ms=minutes * MINUTE)

    @rule(n=pick, number=st.integers(1, 30))
    def cloud_numbers_a_check(self, n: int, number: int) -> None:
        self.send("check_numbered", by="@sync", check=self.a_check(n), number=number)

    @rule(n=pick)
    def cloud_acknowledges(self, n: int) -> None:
        waiting = queries.unsynced_records(self.till.state, limit=50)
        acks = [{"key": w["key"], "version": w["version"]} for w in waiting[: n % 8]]
        self.send("synced", by="@sync", acks=acks)

    @rule(n=pick, phone=st.sampled_from(["555 010 2030", "+44 20 7946 0000", "nope"]))
    def guest_gives_a_phone(self, n: int, phone: str) -> None:
        self.send("attach_loyalty", check=self.a_check(n), phone=phone)

    @rule()
    def close_the_day(self) -> None:
        self.send("close_day", by="m-eve")

    @rule()
    def next_day(self) -> None:
        # Past the dedup window: every id seen so far is forgotten.
        self.till.index += DEDUP_KEEP_ENTRIES
        self.send("open_day", by="m-eve", advance_ms=DEDUP_WINDOW_MS + 60 * MINUTE)

    @precondition(lambda self: bool(self.sent))
    @rule(n=pick)
    def retry_a_command(self, n: int) -> None:
        command = self.sent[n % len(self.sent)]
        remembered = self.till.state.seen_outcome(command["id"]) is not None
        before = domain(self.till.state)
        outcome = self.till.entry(command)
        if remembered:
            assert outcome.duplicate
            assert domain(self.till.state) == before
        else:
            assert not outcome.duplicate  # forgotten after 24 h: applied as new
            if command["type"] == "reopen_check" and outcome.ok:
                # A reopen retried a day later reopens the check again, rightly.
                self.closed.pop(outcome.result["check"], None)

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def balances_add_up(self) -> None:
        from mesh.ledger.money import check_totals

        for check in self.till.state.checks.values():
            balance = check_totals(check).balance
            assert balance == expected_balance(check)
            assert balance >= 0
            if check["status"] == "closed":
                assert balance == 0

    @invariant()
    def closed_checks_do_not_change(self) -> None:
        for check_id, frozen in self.closed.items():
            assert frozen_part(self.till.state.checks[check_id]) == frozen

    @invariant()
    def no_ticket_line_twice(self) -> None:
        state = self.till.state
        ordinary = [t for t in state.tickets.values() if not t.get("refire")]
        seen = [(t["station"], i["line"]) for t in ordinary for i in t["items"]]
        assert len(seen) == len(set(seen))
        for ticket in state.tickets.values():
            if ticket.get("refire"):
                for original in ticket.get("refire_of", []):
                    assert state.tickets[original]["station"] == ticket["station"]
                    assert not state.tickets[original].get("refire")
        for check in state.checks.values():
            for line in check["lines"]:
                stations = [
                    state.tickets[t]["station"]
                    for t in line["tickets"]
                    if not state.tickets[t].get("refire")
                ]
                if line["fired_at"] is None:
                    assert stations == []
                else:
                    assert stations.count(line["station"]) == 1

    def teardown(self) -> None:
        log = self.till.log
        a, b = LedgerState(), LedgerState()
        for entry in log:
            apply(a, entry)
            apply(b, entry)
        live = self.till.state.state_hash()
        assert a.state_hash() == b.state_hash() == live
        middle = LedgerState()
        half = len(log) // 2
        for entry in log[:half]:
            apply(middle, entry)
        resumed = LedgerState.restore(middle.snapshot())
        for entry in log[half:]:
            apply(resumed, entry)
        assert resumed.state_hash() == live


Shift.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestShift = Shift.TestCase


@pytest.mark.slow
def test_long_shifts(request: pytest.FixtureRequest) -> None:
    """The same machine for far longer runs; only when asked for with ``-m slow``."""
    if "slow" not in str(request.config.getoption("markexpr") or ""):
        pytest.skip("long run (minutes): select it with -m slow")
    run_state_machine_as_test(
        Shift,
        settings=settings(
            max_examples=1_000,
            stateful_step_count=100,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
