"""What a frame of the check screen draws, with no software renderer left to guess.

Without a GPU every pixel drawn costs CPU, every frame: the window must draw no
stencil (the screens and the scroll views clip with a scissor, in their own box),
and adding a line must draw the textures of that line and of the totals, not of
every row on show again. Runs ``drawing_probe`` in a subprocess on the test's Xvfb.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.ui import ROOT, VirtualScreen

PROBE_S = 60.0  # s a bound on the probe's run (a Kivy start under Xvfb), never a measure


def test_no_stencil_lists_clipped_to_their_box_and_one_line_added_draws_one_row(
    screen: VirtualScreen, tmp_path: Path
) -> None:
    kivy_home = tmp_path / ".kivy"
    kivy_home.mkdir()
    env = {
        **os.environ,
        "DISPLAY": screen.display,
        "KIVY_HOME": str(kivy_home),
        "KIVY_NO_ARGS": "1",
        "SDL_AUDIODRIVER": "dummy",
        "TABLEMESH_TERMINAL_SIZE": "1280x800",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.terminal.drawing_probe", str(tmp_path / "device")],
        env=env,
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=PROBE_S,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["stencils"] == 0
    assert report["short_check_gap_at_top"] == 0
    assert report["clips"], "the check screen has its lines in a scroll view"
    for clip in report["clips"]:
        assert clip["scissor"] == clip["box"], clip

    assert report["rows"] == 1 + 13  # the seat/course header and the lines
    rows_drawn = [t for t in report["rendered_after_one_line"] if "Dish number" in t]
    assert len(rows_drawn) == 1 and "Dish number 12 " in rows_drawn[0], rows_drawn
    assert "$13.00" in report["rendered_after_one_line"]  # the new line's amount
    assert "$1.00" not in report["rendered_after_one_line"]  # another row's, untouched
