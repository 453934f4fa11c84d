"""InkLabel draws only its text's part of the texture, and the picture is Kivy's Label's.

The same labels (tests/kitchen/ink_scene.py) drawn once with Kivy's Label and
once with InkLabel, each in a window on its own Xvfb: the two frames must be the
same, byte for byte.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kitchen.harness import ROOT, Display, xvfb_missing
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.ui, pytest.mark.timeout(120)]


def draw(kind: str, tmp_path: Path, reaper: ProcessReaper) -> bytes:
    display = Display(reaper, tmp_path / f"{kind}.xvfb.log")
    out = tmp_path / f"{kind}.rgb"
    env = {**os.environ, "DISPLAY": display.name, "PYTHONPATH": str(ROOT)}
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.kitchen.ink_scene", kind, str(out)],
        cwd=ROOT, env=env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    reaper.kill(display.proc)
    assert done.returncode == 0 and out.exists(), done.stderr.decode(errors="replace")[-3000:]
    return out.read_bytes()


def test_ink_label_draws_what_label_draws(tmp_path: Path, reaper: ProcessReaper) -> None:
    reason = xvfb_missing()
    if reason:
        pytest.skip(reason)
    plain, ink = draw("label", tmp_path, reaper), draw("ink", tmp_path, reaper)
    assert len(plain) == 900 * 500 * 3
    assert plain.count(plain[:3]) < len(plain) // 3, "nothing drawn but the background"
    assert ink == plain, f"{sum(a != b for a, b in zip(ink, plain, strict=True))} bytes differ"
