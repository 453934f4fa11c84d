"""Money rules: half-up rounding, per-line tax inclusive and exclusive, check totals."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.ledger.money import (
    check_totals,
    div_round_half_up,
    exclusive_tax,
    format_money,
    inclusive_tax,
    line_amount,
    line_tax,
)
from mesh.ledger.sample_catalog import sample_catalog
from tests.ledger.ledger_harness import Till


@pytest.mark.parametrize(
    ("num", "den", "expected"),
    [(0, 3, 0), (1, 2, 1), (3, 2, 2), (5, 10, 1), (4, 10, 0), (14, 10, 1), (15, 10, 2)],
)
def test_half_goes_up(num: int, den: int, expected: int) -> None:
    assert div_round_half_up(num, den) == expected


def test_negative_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        div_round_half_up(-1, 2)


@pytest.mark.parametrize(
    ("amount", "rate", "tax"),
    [(1000, 888, 89), (1100, 888, 98), (50, 1000, 5), (5, 1000, 1), (4, 1000, 0), (0, 888, 0)],
)
def test_exclusive_tax(amount: int, rate: int, tax: int) -> None:
    assert exclusive_tax(amount, rate) == tax


@pytest.mark.parametrize(("amount", "rate", "tax"), [(1100, 1000, 100), (1600, 1000, 145)])
def test_inclusive_tax(amount: int, rate: int, tax: int) -> None:
    assert inclusive_tax(amount, rate) == tax


@settings(max_examples=200)
@given(st.integers(0, 10**7), st.integers(0, 5000))
def test_inclusive_tax_is_inside_the_price(amount: int, rate: int) -> None:
    tax = inclusive_tax(amount, rate)
    net = amount - tax
    assert 0 <= tax <= amount
    # The net, taxed exclusively, comes back to the price within a cent's rounding.
    assert abs(net + exclusive_tax(net, rate) - amount) <= 1


def test_format_money() -> None:
    assert format_money(1250) == "12.50"
    assert format_money(5) == "0.05"
    assert format_money(-300) == "-3.00"
    assert format_money(7, 0) == "7"


def test_check_totals_mix_inclusive_and_exclusive_lines() -> None:
    till = Till()
    check = till.open()
    # Burger 18.50 + bacon 2.50 = 21.00 (exclusive 8.88 % -> 1.86);
    # two IPAs 16.00 (inclusive 10 % -> 1.45 inside); water 0 with no tax.
    till.add(
        check,
        {"item": "burger", "modifiers": ["mod-bacon", "mod-mrare"]},
        {"item": "ipa", "qty": 2},
        {"item": "water"},
    )
    totals = till.state.find_check(check)
    assert totals is not None

    t = check_totals(totals)
    assert (t.items, t.subtotal, t.tax_added, t.tax, t.total) == (3700, 3700, 186, 331, 3886)
    assert t.balance == 3886


def test_sample_tax_names_show_the_rate_charged() -> None:
    # A receipt or report showing "8.875%" beside 8.88 % of tax would be wrong.
    for tax in sample_catalog()["taxes"].values():
        shown = re.search(r"(\d+(?:\.\d+)?)%", tax["name"])
        assert shown is not None, tax
        assert Decimal(shown.group(1)) * 100 == tax["rate_bp"], tax


def test_tax_is_per_line_so_a_split_adds_up() -> None:
    till = Till()
    check = till.open()
    lines = till.add(check, *({"item": "soda", "seat": s} for s in (1, 2, 3)))
    whole = till.ok("fire", check=check)
    assert whole["lines"] == lines

    before = check_totals(till.state.checks[check]).total
    other = till.new_check_id()
    till.ok("split_check", check=check, parts=[{"new_check": other, "seats": [2, 3]}])
    after = sum(check_totals(till.state.checks[c]).total for c in (check, other))
    assert after == before == 3 * (350 + 31)


def _totals_by_the_line_rules(check: dict[str, Any]) -> tuple[int, ...]:
    """The totals from ``line_tax`` and friends, one call per line (what check_totals
    writes out inline for speed)."""
    items = voids = comps = added = inside = 0
    for line in check["lines"]:
        amount = line_amount(line)
        items += amount
        if line["status"] == "voided":
            voids += amount
        elif line["comp"] is not None:
            comps += amount
        a, i = line_tax(line)
        added, inside = added + a, inside + i
    subtotal = items - voids - comps
    return items, voids, comps, subtotal, added + inside, added, subtotal + added


_lines = st.lists(
    st.fixed_dictionaries(
        {
            "unit_price": st.integers(-5000, 10**6),
            "qty": st.integers(1, 50),
            "status": st.sampled_from(["new", "fired", "voided"]),
            "comp": st.one_of(st.none(), st.just({"reason": "birthday"})),
            "tax": st.one_of(st.none(), st.just("food")),
            # the edges of the rules: no tax, a negative rate, a rate of -100 %
            "tax_rate_bp": st.sampled_from([0, -1, -10_000]) | st.integers(-10_500, 5000),
            "tax_inclusive": st.booleans(),
        }
    ),
    max_size=12,
)


@settings(max_examples=400)
@given(_lines)
def test_check_totals_follow_the_line_rules(lines: list[dict[str, Any]]) -> None:
    check: Any = {"lines": lines, "payments": [{"amount": 500, "tip": 50}]}
    try:
        expected = _totals_by_the_line_rules(check)
    except ValueError:
        with pytest.raises(ValueError):
            check_totals(check)
        return
    t = check_totals(check)
    assert (t.items, t.voids, t.comps, t.subtotal, t.tax, t.tax_added, t.total) == expected
    assert (t.paid, t.tips, t.balance) == (500, 50, t.total - 500)
