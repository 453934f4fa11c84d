"""bench/kitchen_rail.py still runs: the real kitchen app on its own Xvfb, bumps timed.

Nothing about time is asserted (the machines the suite runs on are shared and noisy);
the run must finish, time every bump it made, and measure the screen a cook sees (the
bench refuses a screen that shows a banner).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kitchen.harness import ROOT, xvfb_missing

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]


def test_the_rail_bench_times_every_bump(tmp_path: Path) -> None:
    reason = xvfb_missing()
    if reason:
        pytest.skip(reason)
    out = tmp_path / "kitchen_rail.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "kitchen_rail.py"), "--quick",
         "--window", "1280x720", "--json", str(out)],
        cwd=ROOT, capture_output=True, timeout=200, check=False,
    )  # fmt: skip
    text = done.stdout.decode(errors="replace")
    assert done.returncode == 0, text + done.stderr.decode(errors="replace")[-3000:]
    assert "total: p50" in text, text
    figures = json.loads(out.read_text())
    assert figures["bumps"] == 40
    assert figures["frames"]["partial"] >= 40  # every bump's frame drawn in part
    assert all(figures["ms"][part]["p50"] > 0 for part in ("apply", "draw", "swap", "total"))
