"""Command parsing: every malformed command is rejected as ``invalid`` and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from mesh.ledger.commands import COMMAND_TYPES, AddItems, parse_command
from mesh.ledger.errors import ERROR_CODES, Rejected
from mesh.ledger.rules import ALLOWED_ROLES
from tests.ledger.ledger_harness import Till


def test_every_command_type_has_roles_and_a_handler() -> None:
    from mesh.ledger.apply import HANDLERS

    assert set(ALLOWED_ROLES) == set(COMMAND_TYPES) == set(HANDLERS)


def test_parse_fills_defaults() -> None:
    cmd = parse_command(
        {
            "type": "add_items",
            "id": "x",
            "by": "s-ana",
            "check": "7QK-4F",
            "items": [{"item": "ipa"}],
        }
    )
    assert isinstance(cmd, AddItems)
    order = cmd.items[0]
    assert (order.qty, order.seat, order.course, order.modifiers, order.note) == (1, 0, 1, (), "")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ([], "JSON object"),
        ({"type": "teleport", "id": "x", "by": "s-ana"}, "unknown command type"),
        ({"type": "clock_in", "by": "s-ana"}, "'id'"),
        ({"type": "clock_in", "id": "", "by": "s-ana"}, "'id'"),
        ({"type": "clock_in", "id": "x" * 65, "by": "s-ana"}, "'id'"),
        ({"type": "clock_in", "id": "x"}, "'by'"),
        ({"type": "clock_in", "id": "x", "by": "s-ana", "extra": 1}, "unknown field 'extra'"),
        ({"type": "open_check", "id": "x", "by": "s-ana", "check": "7QK-4F"}, "'table'"),
        (
            {"type": "open_check", "id": "x", "by": "s-ana", "check": "7QK-4F", "table": "1",
             "guests": True},
            "'guests' must be an integer",
        ),
        (
            {"type": "open_check", "id": "x", "by": "s-ana", "check": "7QK-4F", "table": "1",
             "guests": 0},
            "between 1 and 99",
        ),
        ({"type": "add_items", "id": "x", "by": "s-ana", "check": "nope", "items": []}, "check ID"),
        (
            {"type": "add_items", "id": "x", "by": "s-ana", "check": "7QK-4F",
             "items": [{"item": "ipa", "qty": 1.5}]},
            "'qty'",
        ),
        (
            {"type": "add_items", "id": "x", "by": "s-ana", "check": "7QK-4F",
             "items": [{"item": "ipa", "price": 1}]},
            "unknown field 'price'",
        ),
        ({"type": "pay", "id": "x", "by": "s-ana", "check": "7QK-4F", "tender": "cash",
          "amount": -5}, "'amount'"),
        ({"type": "split_check", "id": "x", "by": "s-ana", "check": "7QK-4F",
          "parts": [{"new_check": "7QK-5D"}]}, "either 'seats' or 'lines'"),
        ({"type": "synced", "id": "x", "by": "@sync", "acks": [{"key": "k"}]}, "'version'"),
        ({"type": "eighty_six", "id": "x", "by": "k-dev", "item": "ipa", "available": "no"},
         "true or false"),
    ],
)  # fmt: skip
def test_malformed_commands_are_invalid(raw: Any, fragment: str) -> None:
    with pytest.raises(Rejected) as info:
        parse_command(raw)
    assert info.value.error.code == "invalid"
    assert fragment in info.value.error.message


def test_an_invalid_command_is_rejected_by_apply_and_remembered() -> None:
    till = Till()
    error = till.err("invalid", "open_check", cid="same", check="7QK-4F")
    assert "'table'" in error.message
    # The same id again gets the same answer, even though it is now well formed.
    again = till.submit("open_check", cid="same", check=till.new_check_id(), table="1")
    assert again.duplicate and not again.ok and again.error == error


def test_a_command_without_an_id_is_rejected_and_not_remembered() -> None:
    till = Till()
    outcome = till.entry({"type": "clock_in", "by": "s-ana"})
    assert not outcome.ok and outcome.command_id is None
    assert outcome.error is not None and outcome.error.code == "invalid"


def test_rejected_requires_a_known_code() -> None:
    assert "invalid" in ERROR_CODES
    with pytest.raises(ValueError):
        Rejected("oops", "no such code")
