"""The soak's command line: values out of range are refused before any seed runs.

Only the parser is exercised here; a real soak needs root and takes minutes.
"""

from __future__ import annotations

import pytest

from tests.fault.soak import parse_args


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--nodes", "2"], "from 3 to 7"),
        (["--nodes", "8"], "from 3 to 7"),
        (["--duration", "-5"], "above 0"),
        (["--duration", "0"], "above 0"),
        (["--duration", "nan"], "above 0"),
        (["--seeds", "0"], "at least 1"),
        (["--seeds", "-3"], "at least 1"),
    ],
)
def test_out_of_range_values_exit_2_naming_the_range(
    args: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {args[0]}: " in err and named in err


def test_values_at_the_edges_of_the_ranges_are_accepted() -> None:
    low = parse_args(["--nodes", "3", "--seeds", "1", "--duration", "0.5"])
    assert (low.nodes, low.seeds, low.duration) == (3, 1, 0.5)
    assert parse_args(["--nodes", "7"]).nodes == 7
    defaults = parse_args([])
    assert (defaults.nodes, defaults.seeds, defaults.duration) == (None, 1, 60.0)
