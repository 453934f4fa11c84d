"""The console script: every subcommand of DESIGN.md is listed, and unbuilt ones say so honestly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesh.cli import NOT_BUILT_EXIT, main

SUBCOMMANDS = ["node", "terminal", "kitchen", "cloud", "demo", "ctl", "bench", "site"]


def test_help_lists_every_subcommand() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert f"  {name}" in result.output


def test_the_installed_console_script_runs() -> None:
    script = Path(sys.executable).parent / "tablemesh"
    out = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "ctl" in out.stdout and "demo" in out.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["bench"],
    ],
)
def test_an_unbuilt_subcommand_exits_2_and_names_what_is_missing(argv: list[str]) -> None:
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == NOT_BUILT_EXIT
    assert "not built yet: needs" in result.output
