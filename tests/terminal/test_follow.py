"""The followed check: one read per burst of changes, and the screen called only on news.

``Follow`` runs here on a real worker thread against a stand-in client; nothing
is timed: each step waits for the worker (with a bound) and counts reads and calls.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from terminal.follow import Follow

WAIT_S = 10.0  # a bound on a wait for the worker, never a measured duration


class Client:
    """Answers ``checks`` with the current check; a read can be held until released."""

    def __init__(self) -> None:
        self.check: dict[str, Any] = {"id": "A1-1", "lines": []}
        self.hold = threading.Event()
        self.hold.set()
        self.reading = threading.Event()
        self.reads = 0

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        self.reads += 1
        self.reading.set()
        assert self.hold.wait(WAIT_S)
        return {"ok": True, "check": {**self.check, "lines": list(self.check["lines"])}}

    def submit(self, command: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        raise AssertionError("a follow only reads")


class Rig:
    def __init__(self) -> None:
        self.client = Client()
        self.pool = ThreadPoolExecutor(1)
        self.ui: list[Callable[[], None]] = []  # calls waiting for the "UI thread"
        self.shown: list[dict[str, Any]] = []
        self.follow = Follow(
            "checks",
            {"check": "A1-1"},
            self.shown.append,
            run=lambda read: bool(self.pool.submit(read, self.client)),
            to_ui=self.ui.append,
        )

    def settle(self) -> None:
        """Let the worker finish what it has, then run what it handed to the UI thread."""
        self.pool.submit(lambda: None).result(WAIT_S)
        calls, self.ui[:] = list(self.ui), []
        for call in calls:
            call()


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    try:
        yield made
    finally:
        made.client.hold.set()
        made.pool.shutdown(wait=True)


def test_changes_during_a_read_make_one_more_read_not_one_each(rig: Rig) -> None:
    rig.follow.kick()
    rig.settle()
    assert rig.client.reads == 1 and len(rig.shown) == 1

    rig.client.hold.clear()
    rig.client.reading.clear()
    rig.follow.kick()
    assert rig.client.reading.wait(WAIT_S)  # the read is on its way
    rig.client.check["lines"].append({"id": "L1"})
    for _ in range(5):  # five changes applied while it waits
        rig.follow.kick()
    rig.client.hold.set()
    rig.settle()
    rig.settle()
    assert rig.client.reads == 3  # the first, the one in flight, and one for the five
    assert [len(c["check"]["lines"]) for c in rig.shown] == [0, 1]


def test_an_unchanged_check_is_not_shown_again(rig: Rig) -> None:
    rig.follow.kick()
    rig.settle()
    rig.follow.kick()  # another table changed: this check reads the same
    rig.settle()
    assert rig.client.reads == 2
    assert len(rig.shown) == 1
    rig.client.check["lines"].append({"id": "L1"})
    rig.follow.kick()
    rig.settle()
    assert len(rig.shown) == 2


def test_a_stopped_follow_neither_reads_nor_shows_what_was_on_its_way(rig: Rig) -> None:
    rig.follow.kick()
    rig.pool.submit(lambda: None).result(WAIT_S)  # answered, not yet run on the UI thread
    rig.follow.stop()
    rig.settle()
    rig.follow.kick()
    rig.settle()
    assert rig.shown == []
    assert rig.client.reads == 1


def test_no_node_to_ask_leaves_the_follow_ready_for_the_next_change(rig: Rig) -> None:
    refused = Follow("checks", {}, rig.shown.append, run=lambda read: False, to_ui=rig.ui.append)
    refused.kick()
    refused.kick()
    assert rig.client.reads == 0
    refused._run = lambda read: bool(rig.pool.submit(read, rig.client))
    refused.kick()
    rig.settle()
    assert rig.client.reads == 1 and len(rig.shown) == 1


def test_a_read_the_node_did_not_answer_is_tried_again_without_a_change(rig: Rig) -> None:
    # With no change to come (the other terminal waits), a failed read must not
    # leave the screen behind until some later change happens to kick the follow.
    answers: list[BaseException | None] = [TimeoutError("no answer in 10 s"), None]
    call = rig.client.call

    def flaky(op: str, **args: Any) -> dict[str, Any]:
        failure = answers.pop(0) if answers else None
        if failure is not None:
            rig.client.reads += 1
            raise failure
        return call(op, **args)

    rig.client.call = flaky  # type: ignore[method-assign]
    rig.follow.retry_s = 0.01
    rig.follow.kick()
    deadline = time.monotonic() + WAIT_S
    while rig.client.reads < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    rig.settle()
    assert rig.client.reads == 2
    assert [r["ok"] for r in rig.shown] == [False, True]  # "unreachable", then the check


def test_a_stopped_follow_does_not_retry(rig: Rig) -> None:
    def failing(op: str, **args: Any) -> dict[str, Any]:
        rig.client.reads += 1
        raise TimeoutError("no answer")

    rig.client.call = failing  # type: ignore[method-assign]
    rig.follow.retry_s = WAIT_S  # a stop must cut the wait short
    rig.follow.kick()
    deadline = time.monotonic() + WAIT_S
    while rig.client.reads < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    rig.follow.stop()
    rig.pool.submit(lambda: None).result(WAIT_S)  # the worker is free again
    assert rig.client.reads == 1
