"""Lines shown as sending until the ledger's own line takes their place (no window)."""

from __future__ import annotations

from typing import Any

from terminal import present
from terminal.sending import ACKNOWLEDGED_KEEP_S, SENDING, UNCONFIRMED, SendingLines

CATALOG = {
    "items": {"burger": {"name": "Burger"}, "soda": {"name": "Soda"}},
    "modifiers": {"mod-cheese": {"name": "Add cheese"}},
}
BURGER = {"item": "burger", "qty": 1, "seat": 2, "course": 1, "modifiers": ["mod-cheese"]}


def ledger_line(line_id: str, order: dict[str, Any], by: str = "s-ana") -> dict[str, Any]:
    """A line as the ledger's check detail has it."""
    return {
        "id": line_id,
        "item": order["item"],
        "name": CATALOG["items"][order["item"]]["name"],
        "qty": order.get("qty", 1),
        "seat": order.get("seat", 0),
        "course": order.get("course", 1),
        "modifiers": [
            {"id": m, "name": CATALOG["modifiers"][m]["name"], "price": 100}
            for m in order.get("modifiers", [])
        ],
        "note": order.get("note", ""),
        "status": "new",
        "added_by": by,
        "amount": 1250,
    }


def check(*lines: dict[str, Any]) -> dict[str, Any]:
    return {"id": "T1", "lines": list(lines)}


def test_a_tapped_line_shows_at_once_as_sending_with_no_amount() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    [line] = s.lines()
    assert (line["name"], line["seat"], line["status"]) == ("Burger", 2, SENDING)
    assert [m["name"] for m in line["modifiers"]] == ["Add cheese"]
    rows = present.line_rows([ledger_line("L1", {"item": "soda", "seat": 2}), *s.lines()])
    assert [r["kind"] for r in rows] == ["header", "line", "pending"]
    assert "SENDING" in rows[-1]["text"] and "Add cheese" in rows[-1]["text"]
    assert rows[-1]["amount"] == ""  # prices and totals are the ledger's


def test_acknowledged_row_goes_once_a_read_shows_its_line() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    assert not s.acknowledged("c1", {"lines": ["L7"]}, check(), now=10.0)
    assert len(s) == 1
    assert not s.shown(check(), check(), now=10.1)  # a read from before the command
    assert s.shown(check(ledger_line("L7", BURGER)), check(), now=10.2)
    assert len(s) == 0


def test_acknowledged_row_goes_at_once_when_its_line_is_already_shown() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    assert s.acknowledged("c1", {"lines": ["L7"]}, check(ledger_line("L7", BURGER)), now=1.0)
    assert s.lines() == []


def test_a_read_before_the_answer_replaces_the_row_with_the_matching_new_line() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    s.add("c2", BURGER, "s-ana", CATALOG)  # the same item tapped twice
    old = ledger_line("L1", BURGER)
    other_seat = ledger_line("L2", {**BURGER, "seat": 3})
    other_server = ledger_line("L3", BURGER, by="s-bob")
    # Lines that were already shown, or differ in seat or server, are not the row's.
    assert not s.shown(check(old, other_seat, other_server), check(old), now=1.0)
    assert len(s) == 2
    assert s.shown(
        check(old, other_seat, other_server, ledger_line("L4", BURGER)),
        check(old, other_seat, other_server),
        now=1.1,
    )
    assert len(s) == 1  # one new line takes the place of one row only


def test_refused_goes_not_acknowledged_stays_until_retry() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    s.add("c2", {"item": "soda", "qty": 1, "seat": 1, "course": 1}, "s-ana", CATALOG)
    assert s.unconfirmed("c1")
    assert [line["status"] for line in s.lines()] == [UNCONFIRMED, SENDING]
    rows = present.line_rows(s.lines())
    assert [r["text"].count("NOT CONFIRMED") for r in rows if r["kind"] == "pending"] == [0, 1]
    assert s.resent("c1")
    assert not s.resent("c1")  # already sending: nothing to redraw
    assert s.refused("c2")
    assert not s.refused("c2")
    assert [line["status"] for line in s.lines()] == [SENDING]


def test_an_acknowledged_row_no_read_shows_goes_after_a_while() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    s.acknowledged("c1", {"lines": ["L9"]}, check(), now=5.0)
    assert not s.overdue(5.0 + ACKNOWLEDGED_KEEP_S / 2)
    assert s.overdue(5.0 + ACKNOWLEDGED_KEEP_S + 0.01)
    assert len(s) == 0


def test_an_outcome_without_lines_leaves_nothing_to_wait_for() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    assert s.acknowledged("c1", {}, check(), now=1.0)
    assert not s.acknowledged("c1", {"lines": ["L1"]}, check(), now=1.0)  # unknown by now
    assert "c1" not in s


def test_the_first_read_of_a_check_replaces_no_row_by_its_look() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    # Tapped before the screen's first read: that read's lines are all "new" to it.
    assert not s.shown(check(ledger_line("L1", BURGER)), {}, now=1.0)
    assert len(s) == 1


def test_clear_forgets_every_row() -> None:
    s = SendingLines()
    s.add("c1", BURGER, "s-ana", CATALOG)
    s.clear()
    assert s.lines() == [] and not s.shown(check(), check(), now=0.0)
