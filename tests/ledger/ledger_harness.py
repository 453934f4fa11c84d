"""A small till for ledger tests: submits commands as committed entries, in order.

Each ``submit`` makes the next log entry, stamped ``step_ms`` after the last, so
tests read like a shift on the floor. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

import json
from typing import Any

from mesh.ledger import LedgerEntry, LedgerError, LedgerState, Outcome, apply
from mesh.ledger.check_ids import make_temp_id
from mesh.ledger.sample_catalog import sample_catalog

# 2025-11-23 20:00 at UTC-5 (01:00 UTC on the 24th): dinner service.
DINNER_MS = 1_763_946_000_000
MINUTE = 60_000


class Till:
    def __init__(self, *, start_ms: int = DINNER_MS, catalog: bool = True) -> None:
        self.state = LedgerState()
        self.index = 0
        self.now = start_ms
        self.ids = 0
        self.checks = 0
        self.log: list[LedgerEntry] = []
        if catalog:
            self.ok("catalog_update", by="@setup", catalog=sample_catalog())

    def entry(self, command: Any, *, advance_ms: int = 1_000) -> Outcome:
        self.index += 1
        self.now += advance_ms
        entry = LedgerEntry(index=self.index, time_ms=self.now, command=command, term=1)
        self.log.append(entry)
        return apply(self.state, entry)

    def submit(
        self,
        ctype: str,
        *,
        by: str = "s-ana",
        cid: str | None = None,
        advance_ms: int = 1_000,
        **fields: Any,
    ) -> Outcome:
        if cid is None:
            self.ids += 1
            cid = f"cmd-{self.ids}"
        return self.entry({"type": ctype, "id": cid, "by": by, **fields}, advance_ms=advance_ms)

    def ok(self, ctype: str, **kw: Any) -> dict[str, Any]:
        outcome = self.submit(ctype, **kw)
        assert outcome.ok, outcome.error
        return outcome.result

    def err(self, code: str, ctype: str, **kw: Any) -> LedgerError:
        before = domain(self.state)
        outcome = self.submit(ctype, **kw)
        assert not outcome.ok, f"{ctype} should have been rejected: {outcome.result}"
        assert outcome.error is not None
        assert outcome.error.code == code, outcome.error
        assert domain(self.state) == before, "a rejected command changed the state"
        return outcome.error

    def new_check_id(self) -> str:
        self.checks += 1
        return make_temp_id("7QK", self.checks)

    def open(self, *, table: str = "12", by: str = "s-ana", guests: int = 2) -> str:
        check = self.new_check_id()
        self.ok("open_check", by=by, check=check, table=table, guests=guests)
        return check

    def add(self, check: str, *items: dict[str, Any], by: str = "s-ana") -> list[str]:
        lines: list[str] = self.ok("add_items", by=by, check=check, items=list(items))["lines"]
        return lines


def domain(state: LedgerState) -> dict[str, Any]:
    """The state without its bookkeeping (index, time, dedup): what a rejection must not touch."""
    d = state.to_dict()
    for key in ("applied_index", "applied_term", "last_time_ms", "dedup"):
        d.pop(key)
    copied: dict[str, Any] = json.loads(json.dumps(d))  # deep: later changes cannot alias it
    return copied
