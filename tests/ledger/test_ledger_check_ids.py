"""Temporary check IDs: shape, check symbol, human input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.ledger.check_ids import (
    ALPHABET,
    is_valid_temp_id,
    make_temp_id,
    normalize_temp_id,
    not_a_check_ref,
    parse_check_ref,
    temp_id_counter,
)

prefixes = st.text(alphabet=ALPHABET, min_size=2, max_size=4)
counters = st.integers(min_value=0, max_value=32**8 - 1)


def test_format_is_prefix_dash_counter_and_check_symbol() -> None:
    made = make_temp_id("7QK", 4)
    assert made.startswith("7QK-4") and len(made) == 6
    assert is_valid_temp_id(made)
    assert make_temp_id("7qk", 4) == made  # prefixes fold to upper case


def test_counter_grows_the_id() -> None:
    assert make_temp_id("AB", 32 * 32).split("-")[1][:-1] == "100"


@pytest.mark.parametrize(
    "bad", ["", "7QK", "7QK-", "7QK-4", "7QK-4DD", "7Q-K-4D", "7QKO-4D", "X-4D"]
)
def test_malformed_ids_are_invalid(bad: str) -> None:
    assert not is_valid_temp_id(bad)


@pytest.mark.parametrize(("prefix", "counter"), [("7", 1), ("7QKAB", 1), ("7QK", -1), ("U1", 2)])
def test_generator_refuses_bad_input(prefix: str, counter: int) -> None:
    with pytest.raises(ValueError):
        make_temp_id(prefix, counter)


@settings(max_examples=200)
@given(prefixes, counters)
def test_every_made_id_is_valid(prefix: str, counter: int) -> None:
    assert is_valid_temp_id(make_temp_id(prefix, counter))


@settings(max_examples=200)
@given(prefixes, counters)
def test_an_ids_counter_reads_back_for_its_own_prefix_only(prefix: str, counter: int) -> None:
    made = make_temp_id(prefix, counter)
    assert temp_id_counter(made, prefix) == counter
    other = "ZZ" if prefix != "ZZ" else "YY"
    assert temp_id_counter(made, other) is None
    assert temp_id_counter("1234", prefix) is None  # a check number is no device's ID


@settings(max_examples=100)
@given(prefixes, counters, st.data())
def test_any_single_symbol_change_is_detected(
    prefix: str, counter: int, data: st.DataObject
) -> None:
    made = make_temp_id(prefix, counter)
    positions = [i for i, ch in enumerate(made) if ch != "-"]
    pos = data.draw(st.sampled_from(positions))
    other = data.draw(st.sampled_from([c for c in ALPHABET if c != made[pos]]))
    typo = made[:pos] + other + made[pos + 1 :]
    assert not is_valid_temp_id(typo)


def test_distinct_devices_and_counters_never_collide() -> None:
    made = {make_temp_id(p, n) for p in ("7QK", "7QM", "AB") for n in range(2000)}
    assert len(made) == 6000


def test_human_input_folds_look_alikes() -> None:
    made = make_temp_id("10K", 7)
    typed = made.lower().replace("1", "l").replace("0", "o")
    assert normalize_temp_id(f" {typed} ") == made


def test_a_check_reference_is_a_number_or_a_valid_temporary_id() -> None:
    good = make_temp_id("A2", 9)
    assert parse_check_ref(good.lower().replace("1", "l")) == good  # folded as typed
    assert parse_check_ref("42") == "42"
    for bad in ("A2-99", "NOPE-1", "²", ""):
        assert parse_check_ref(bad) is None, bad
    assert not_a_check_ref("A2-99") == "'A2-99' is not a check ID (like 7QK-4F) or number"
