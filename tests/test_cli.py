"""The console script: every subcommand of DESIGN.md is listed, and unbuilt ones say so honestly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesh.cli import NOT_BUILT_EXIT, _not_built, main

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


def test_a_part_that_is_missing_exits_2_and_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    # Every subcommand is built; a part can still be missing from an install (an
    # app without its extra, `bench` outside a source checkout).
    with pytest.raises(SystemExit) as exited:
        _not_built("bench", "a source checkout")
    assert exited.value.code == NOT_BUILT_EXIT
    assert "not built yet: needs a source checkout" in capsys.readouterr().err
