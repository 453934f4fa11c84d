"""How the KDS configures Kivy before its window exists (in a child process: Kivy's import
changes the process's logging, and no window is opened)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.kitchen.harness import ROOT

PROBE = """
import json
from kitchen.main import configure_kivy
from kitchen.settings import KitchenSettings
configure_kivy(KitchenSettings(width=1280, height=800))
from kivy.clock import Clock
from kivy.config import Config
print(json.dumps({"multisamples": Config.get("graphics", "multisamples"),
                  "size": [Config.get("graphics", "width"), Config.get("graphics", "height")],
                  "clock": Clock.__class__.__name__}))
"""


def test_no_multisampling_and_a_clock_that_wakes_for_the_feed() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["multisamples"] == "0"
    assert got["size"] == ["1280", "800"]
    # The feed thread's tickets are applied at once, not at the next 1/60 s tick.
    assert got["clock"] == "ClockBaseInterrupt"
