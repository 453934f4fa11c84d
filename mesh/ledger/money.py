"""Money arithmetic: integer minor units, per-line tax, one rounding rule, check totals.

Rules
- Amounts are integers in the currency's minor unit (cents). No floats, ever.
- Tax rates are basis points (825 = 8.25 %).
- Tax is computed per line and rounded half up (a half cent goes up). Per line,
  not per check, so that a line keeps its tax when it moves to another check in a
  split and the parts of a split always add up to the whole.
- Exclusive tax is added on top: ``tax = round(amount * rate)``.
- Inclusive tax is inside the price: ``net = round(amount / (1 + rate))`` and
  ``tax = amount - net``, so price = net + tax exactly.
- A voided line counts nothing; a comped line counts nothing and pays no tax.
- ``balance = total - paid``; tips and change never touch the balance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh.ledger.records import CheckRec, LineRec

BP: int = 10_000  # basis points in 100 %


def div_round_half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative numerators."""
    if numerator < 0 or denominator <= 0:
        raise ValueError("div_round_half_up takes a non-negative numerator")
    return (2 * numerator + denominator) // (2 * denominator)


def exclusive_tax(amount: int, rate_bp: int) -> int:
    return div_round_half_up(amount * rate_bp, BP)


def inclusive_tax(amount: int, rate_bp: int) -> int:
    return amount - div_round_half_up(amount * BP, BP + rate_bp)


def line_amount(line: LineRec) -> int:
    """What the line is worth before voids and comps (tax-inclusive lines include tax)."""
    return line["unit_price"] * line["qty"]


def line_is_active(line: LineRec) -> bool:
    """Counts towards the total: neither voided nor comped."""
    return line["status"] != "voided" and line["comp"] is None


def line_tax(line: LineRec) -> tuple[int, int]:
    """(exclusive tax added on top, inclusive tax already in the price) of an active line."""
    if not line_is_active(line) or line["tax"] is None:
        return 0, 0
    amount = line_amount(line)
    if line["tax_inclusive"]:
        return 0, inclusive_tax(amount, line["tax_rate_bp"])
    return exclusive_tax(amount, line["tax_rate_bp"]), 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    items: int  # every line ever added
    voids: int
    comps: int
    subtotal: int  # items - voids - comps
    tax: int  # all tax (exclusive + inclusive), for the receipt
    tax_added: int  # the exclusive part, the only tax that adds to the total
    total: int  # subtotal + tax_added
    paid: int
    tips: int
    balance: int  # total - paid

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "voids": self.voids,
            "comps": self.comps,
            "subtotal": self.subtotal,
            "tax": self.tax,
            "tax_added": self.tax_added,
            "total": self.total,
            "paid": self.paid,
            "tips": self.tips,
            "balance": self.balance,
        }


def check_totals(check: CheckRec) -> Totals:
    # Every add, void and payment recomputes its check's totals, on every node, so the
    # per-line rules above are written out here rather than called: the same sums and
    # the same refusal of a negative amount (tests/ledger/test_ledger_money.py).
    items = voids = comps = tax_added = tax_inside = 0
    for line in check["lines"]:
        amount = line["unit_price"] * line["qty"]
        items += amount
        if line["status"] == "voided":
            voids += amount
        elif line["comp"] is not None:
            comps += amount
        elif line["tax"] is not None:
            rate = line["tax_rate_bp"]
            if line["tax_inclusive"]:
                if amount < 0 or BP + rate <= 0:
                    raise ValueError("div_round_half_up takes a non-negative numerator")
                tax_inside += amount - (2 * amount * BP + BP + rate) // (2 * (BP + rate))
            else:
                if amount * rate < 0:
                    raise ValueError("div_round_half_up takes a non-negative numerator")
                tax_added += (2 * amount * rate + BP) // (2 * BP)
    subtotal = items - voids - comps
    total = subtotal + tax_added
    paid = sum(p["amount"] for p in check["payments"])
    tips = sum(p["tip"] for p in check["payments"])
    return Totals(
        items=items,
        voids=voids,
        comps=comps,
        subtotal=subtotal,
        tax=tax_added + tax_inside,
        tax_added=tax_added,
        total=total,
        paid=paid,
        tips=tips,
        balance=total - paid,
    )


def format_money(amount: int, decimals: int = 2) -> str:
    """``1250`` -> ``"12.50"``, for messages people read (no currency symbol)."""
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}" if decimals else f"{sign}{whole}"
