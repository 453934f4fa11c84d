"""``json_copy``: every applied outcome is remembered through it, so it must give what a
JSON round trip gives (and what a restored snapshot holds), only faster."""

from __future__ import annotations

import json
import math
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.ledger.state import json_copy

_scalars = (
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False)
)
_trees = st.recursive(
    _scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.lists(kids, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6) | st.integers(-3, 3), kids, max_size=4)
    ),
    max_leaves=20,
)


def _round_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


@settings(max_examples=300)
@given(_trees)
def test_same_as_a_json_round_trip(value: Any) -> None:
    copied = json_copy(value)
    assert copied == _round_trip(value)
    assert json.dumps(copied) == json.dumps(_round_trip(value))  # same types: keys, lists


def test_a_copy_shares_nothing_with_the_original() -> None:
    inner = {"lines": [{"qty": 1}]}
    outcome = {"id": "c1", "result": inner, "pair": ("a", 1)}
    copied = json_copy(outcome)
    inner["lines"][0]["qty"] = 2
    assert copied == {"id": "c1", "result": {"lines": [{"qty": 1}]}, "pair": ["a", 1]}


class Size(IntEnum):
    SMALL = 1


def test_what_json_changes_is_changed_the_same_way() -> None:
    # Keys that are not strings become strings; an int subclass becomes a plain int.
    assert json_copy({1: "a", "b": Size.SMALL}) == {"1": "a", "b": 1}
    assert type(json_copy([Size.SMALL])[0]) is int
    assert math.isinf(json_copy({"x": math.inf})["x"])


def test_what_json_refuses_is_refused() -> None:
    with pytest.raises(TypeError):
        json_copy({"when": b"bytes"})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        json_copy(loop)
