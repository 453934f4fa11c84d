"""Temporary check IDs: made on a device without coordination, checked on apply.

Shape: ``PREFIX-COUNTERC`` in Crockford base32 (no I, L, O or U, so 1/I and 0/O
cannot be confused), e.g. ``7QK-4D``: the device prefix ``7QK`` (2 to 4 symbols,
unique per device in the site), the device's counter ``4`` and a check symbol
``D``. Uniqueness comes from the prefix (one per device) and the counter (never
reused by that device), so no two devices can make the same ID.

The check symbol is a Luhn mod 32 over prefix and counter. Crockford's own mod-37
check symbol needs ``* ~ $ = U``, which are hard to read aloud and to type on a
touch keypad; Luhn mod 32 stays in the alphabet and still catches every single
mistyped symbol and most swaps of two neighbours.
"""

from __future__ import annotations

import functools
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE: Final = {ch: i for i, ch in enumerate(ALPHABET)}
# Human input: Crockford decoding folds the look-alikes onto their digit.
_FOLD: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})

PREFIX_MIN: Final = 2
PREFIX_MAX: Final = 4
COUNTER_MAX: Final = 32**8 - 1  # ~1.1e12 checks per device: never reached


def _encode(n: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 32)
        out.append(ALPHABET[r])
    return "".join(reversed(out))


def check_symbol(payload: str) -> str:
    """Luhn mod 32 check symbol over ``payload`` (canonical Crockford symbols)."""
    factor = 2
    total = 0
    for ch in reversed(payload):
        addend = factor * _VALUE[ch]
        factor = 1 if factor == 2 else 2
        total += addend // 32 + addend % 32
    return ALPHABET[(32 - total % 32) % 32]


def is_valid_prefix(prefix: str) -> bool:
    return PREFIX_MIN <= len(prefix) <= PREFIX_MAX and all(ch in _VALUE for ch in prefix)


def make_temp_id(device_prefix: str, counter: int) -> str:
    """The ``counter``-th temporary check ID of the device with ``device_prefix``."""
    prefix = device_prefix.upper().translate(_FOLD)
    if not is_valid_prefix(prefix):
        raise ValueError(f"device prefix must be {PREFIX_MIN}-{PREFIX_MAX} Crockford symbols")
    if not 0 <= counter <= COUNTER_MAX:
        raise ValueError("counter out of range")
    body = _encode(counter)
    return f"{prefix}-{body}{check_symbol(prefix + body)}"


def is_valid_temp_id(s: str) -> bool:
    """True if ``s`` is a canonical temporary ID (as ``make_temp_id`` writes it)."""
    return isinstance(s, str) and _is_valid_str(s)


# Every command on a check checks its ID again (twenty times for a table's order), on
# every node: the answer for a recent ID is remembered.
@functools.lru_cache(maxsize=4096)
def _is_valid_str(s: str) -> bool:
    if s.count("-") != 1:
        return False
    prefix, rest = s.split("-")
    if not is_valid_prefix(prefix) or not 2 <= len(rest) <= 9:
        return False
    if not all(ch in _VALUE for ch in rest):
        return False
    body, check = rest[:-1], rest[-1]
    if len(body) > 1 and body[0] == "0":
        return False  # one spelling per counter, or two IDs could name one check
    return check_symbol(prefix + body) == check


def temp_id_counter(s: str, device_prefix: str) -> int | None:
    """The counter of ``s`` if it is a valid temporary ID of ``device_prefix``, else None."""
    if not is_valid_temp_id(s):
        return None
    prefix, rest = s.split("-")
    if prefix != device_prefix.upper().translate(_FOLD):
        return None
    n = 0
    for ch in rest[:-1]:
        n = n * 32 + _VALUE[ch]
    return n


def normalize_temp_id(s: str) -> str:
    """Fold what a person typed (lower case, O for 0, I or L for 1, spaces) to canonical form.

    The result may still be invalid; check it with ``is_valid_temp_id``.
    """
    return "".join(s.split()).upper().translate(_FOLD)


def parse_check_ref(s: str) -> str | None:
    """A check reference as a person typed it: a check number as it is, or a temporary
    ID in canonical form; None when it is neither (a mistyped ID fails its check symbol).

    Every place that takes a reference uses this one rule, so that a reference one
    refuses as malformed is not "no such check" to another.
    """
    if s.isascii() and s.isdigit():  # "²" is a digit to str, not to int
        return s
    folded = normalize_temp_id(s)
    return folded if is_valid_temp_id(folded) else None


def not_a_check_ref(s: str) -> str:
    """Why ``parse_check_ref`` refused ``s``, in the same words wherever it is refused."""
    return f"'{s}' is not a check ID (like 7QK-4F) or number"
