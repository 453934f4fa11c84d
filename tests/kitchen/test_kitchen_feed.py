"""The feed hands the UI only what changed (no window): an unchanged fetch is never redrawn."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from kitchen.feed import Feed, Snapshot
from mesh.ledger.sample_catalog import sample_catalog

WAIT_S = 10.0


def raw_ticket(tid: str, state: str = "new") -> dict[str, Any]:
    return {"id": tid, "check": "A1-1V", "number": None, "table": "12", "server": "s-ana",
            "station": "grill", "course": None, "status": "open", "created_at": 1_000,
            "bumped_at": None, "refire": False, "refire_of": [], "refire_reason": None,
            "age_ms": 4_000,
            "items": [{"line": "L1", "item": "ribeye", "name": "Ribeye 14oz", "qty": 1,
                       "modifiers": [], "note": "", "seat": 0, "course": 1,
                       "station": "grill", "state": state}]}  # fmt: skip


class FakeNode:
    """Answers like a node whose applied index moves on every change, tickets or not."""

    def __init__(self) -> None:
        self.tickets = [raw_ticket("K1")]
        self.index = 10
        self.calls: list[str] = []

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.calls.append(op)
        if op == "status":
            return {"ok": True, "dot": "green", "in_quorum": True, "applied_index": self.index}
        if op == "catalog":
            return {"ok": True, "catalog": sample_catalog()}
        return {"ok": True, "tickets": [dict(t) for t in self.tickets]}

    def submit(self, command: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        return {"ok": True}


@pytest.fixture
def feed() -> Iterator[tuple[Feed, FakeNode, list[Snapshot]]]:
    node = FakeNode()
    got: list[Snapshot] = []
    lock = threading.Lock()

    def deliver(snap: Snapshot) -> None:
        with lock:
            got.append(snap)

    made = Feed(node, "grill", lambda fn: fn(), deliver, poll_s=0.05)
    made.start()
    try:
        yield made, node, got
    finally:
        made.stop()


def wait_until(what: str, check: Any) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def with_tickets(got: list[Snapshot]) -> list[Snapshot]:
    return [s for s in list(got) if s.tickets is not None]


def test_a_change_that_leaves_the_screens_tickets_as_they_were_hands_the_ui_nothing(
    feed: tuple[Feed, FakeNode, list[Snapshot]],
) -> None:
    screen, node, got = feed
    wait_until("the first tickets", lambda: len(with_tickets(got)) == 1)
    # A check opened or items added elsewhere: the log moved on, this station's tickets not.
    fetched = node.calls.count("tickets")
    node.index += 1
    screen.poke(node.index)
    wait_until("a second fetch", lambda: node.calls.count("tickets") > fetched)
    time.sleep(0.3)  # a few timed passes: none may fetch again or hand anything over
    assert len(with_tickets(got)) == 1
    assert node.calls.count("tickets") == fetched + 1

    node.tickets = [raw_ticket("K1", "bumped")]  # a real change is handed over at once
    node.index += 1
    screen.poke(node.index)
    wait_until("the changed tickets", lambda: len(with_tickets(got)) == 2)
    assert with_tickets(got)[-1].tickets[0].items[0].state == "bumped"  # type: ignore[index]
