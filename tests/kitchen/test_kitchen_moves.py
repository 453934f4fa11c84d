"""A moved card is copied only where that leaves the picture a whole frame draws.

``tests/kitchen/move_scene.py`` moves boxes as the rail moves cards, on its own Xvfb,
and after each move compares the picture partial frames left with the window drawn
whole. A card whose old place nothing else covers must leave no picture there; a card
moving onto something else must be drawn, not copied; a free move is copied. In a
large card a moved band and then the removed card must leave nothing behind. A change
inside one card is drawn in a pass that leaves out the canvases of everything else, and
a pass clears only the rows where something drew or draws.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kitchen.harness import ROOT, Display, xvfb_missing
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.ui, pytest.mark.timeout(120)]


def test_moves_are_copied_only_where_the_picture_stays_right(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    reason = xvfb_missing()
    if reason:
        pytest.skip(reason)
    display = Display(reaper, tmp_path / "xvfb.log")
    out = tmp_path / "moves.jsonl"
    env = {**os.environ, "DISPLAY": display.name, "PYTHONPATH": str(ROOT)}
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.kitchen.move_scene", str(out)],
        cwd=ROOT, env=env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    reaper.kill(display.proc)
    assert done.returncode == 0 and out.exists(), done.stderr.decode(errors="replace")[-3000:]
    steps = [json.loads(line) for line in out.read_text().splitlines()]
    gone_and_moved, blocked, free, band_moved, big_gone, inner_colour, sparse, stencil = steps
    for step in steps:
        assert step["partial"] and step["whole"], step
    assert gone_and_moved["copied"] == 1 and gone_and_moved["differ"] == 0, "old place left stale"
    assert blocked["copied"] == 0 and blocked["differ"] == 0, "copied over another widget"
    assert free["copied"] == 1 and free["differ"] == 0
    assert band_moved["copied"] == 0 and band_moved["differ"] == 0, "a moved band left stale"
    assert big_gone["copied"] == 0 and big_gone["differ"] == 0, "a gone card left stale"
    # Cards B and C and the marker draw nothing near D's inner box: left out of its pass.
    assert inner_colour["differ"] == 0 and inner_colour["left_out"] >= 3, inner_colour
    # A column's pass clears only the rows drawn in it, before and now, not its empty middle.
    assert sparse["copied"] == 1 and sparse["differ"] == 0, sparse
    assert 0 < sparse["cleared"] < sparse["passes"] // 2, sparse
    assert stencil["differ"] == 0, stencil  # a stencil's clip, in a pass that clears colour
