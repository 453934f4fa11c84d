"""``tablemesh demo`` with its windows, under Xvfb: all four on screen, the console drives it.

The demo runs as a user would start it, on a virtual screen the size of its
window grid, with its console fed through a pipe. Screenshots of the whole
screen (and of each window) are kept in tests/artifacts/demo/ to be looked at.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mesh.client.api import ControlClient
from mesh.demo_windows import SCREEN_SIZE
from mesh.demo_windows import window_boxes as demo_window_boxes
from tests.demo.test_dinner_rush import processes_using
from tests.support.cluster import wait_for
from tests.support.procs import ProcessReaper
from tests.support.ui import VirtualScreen, ui_unavailable

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "demo"
START_S = 240.0  # s for the cloud, a node and four Kivy windows on a shared 2-core machine

pytestmark = [pytest.mark.ui, pytest.mark.timeout(START_S + 180)]


def grab(display: str) -> Any:
    from PIL import ImageGrab

    return ImageGrab.grab(xdisplay=display)


def window_boxes() -> dict[str, tuple[int, int, int, int]]:
    boxes = demo_window_boxes()
    return {
        "n2-terminal": boxes["terminal-0"],
        "n3-terminal": boxes["terminal-1"],
        "n4-kitchen-grill": boxes["kitchen-0"],
        "n5-kitchen-expo": boxes["kitchen-1"],
    }


def every_window_drawn(display: str) -> bool:
    shot = grab(display)
    for box in window_boxes().values():
        extrema = shot.crop(box).convert("L").getextrema()
        if extrema[1] - extrema[0] < 60:  # a blank (unmapped or not yet drawn) area
            return False
    return True


def save_shots(display: str, stem: str) -> list[Path]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = grab(display)
    paths = [ARTIFACTS / f"{stem}.png"]
    shot.save(paths[0])
    for name, box in window_boxes().items():
        paths.append(ARTIFACTS / f"{stem}-{name}.png")
        shot.crop(box).save(paths[-1])
    return paths


class Console:
    """The demo's stdin (commands) and its output log (what it answered)."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def test_windowed_demo_shows_four_windows_obeys_its_console_and_stops_everything(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    reason = ui_unavailable()
    if reason is not None:
        pytest.skip(reason)
    from PIL import features

    if not features.check("xcb"):
        pytest.skip("this Pillow cannot grab an X screen (built without XCB)")
    screen = VirtualScreen(reaper, size=SCREEN_SIZE)
    root = tmp_path / "site"
    log = tmp_path / "demo.log"
    env = {**os.environ, "DISPLAY": screen.display, "SDL_AUDIODRIVER": "dummy"}
    proc = reaper.spawn(
        [sys.executable, "-m", "mesh", "demo", "--data", str(root)],
        log=log,
        stdin=subprocess.PIPE,
        env=env,
    )
    console = Console(proc, log)
    try:
        site_file = root / "site.json"
        wait_for("site.json (every window answering)", site_file.exists, START_S)
        site = json.loads(site_file.read_text())
        for node in site["nodes"]:
            reaper.track(node["pid"])
        reaper.track(site["cloud"]["pid"])
        kinds = {n["name"]: n["kind"] for n in site["nodes"]}
        assert kinds == {
            "n1": "node",
            "n2": "terminal",
            "n3": "terminal",
            "n4": "kitchen",
            "n5": "kitchen",
        }
        assert "PIN" in console.text()
        wait_for("every dot green", lambda: _dots(console.text(), "green") == 5, 60)
        # Orders from a terminal's own node (its window hosts it), so the kitchen has tickets.
        terminal = ControlClient(Path(site["nodes"][1]["data"]))
        order(terminal, "4", ["ribeye", "fries", "ipa"])
        order(terminal, "7", ["burger", "salmon", "caesar"])
        wait_for("all four windows drawn", lambda: every_window_drawn(screen.display), 60)
        time.sleep(3)  # the kitchen screens redraw on the next change they see
        save_shots(screen.display, "1-online")

        console.send("1")
        wait_for("the internet cut", lambda: "internet cut" in console.text(), 20)
        wait_for("red dots", lambda: _dots(console.text(), "red") == 5, 30)
        order(terminal, "12", ["chicken", "wings"])  # offline: the kitchen still gets it
        time.sleep(3)
        save_shots(screen.display, "2-offline")

        console.send("3")
        gone = wait_for(
            "the leader killed", lambda: re.search(r"the leader (\w+) is gone", console.text()), 20
        )
        killed = gone.group(1)
        wait_for("a new leader", lambda: _leader(console.text()) not in (None, killed), 30)
        console.send(f"5 {killed}")
        wait_for("the device restarting", lambda: f"{killed} restarting" in console.text(), 20)
        console.send("2")
        wait_for("the cloud back", lambda: "the cloud is back" in console.text(), 60)
        wait_for("all five green again", lambda: _dots(console.text(), "green") == 5, START_S)
        wait_for("all four windows drawn", lambda: every_window_drawn(screen.display), 60)
        time.sleep(2)
        save_shots(screen.display, "3-after-failover")

        site = json.loads(site_file.read_text())
        for node in site["nodes"]:
            reaper.track(node["pid"])
        console.send("q")
        assert proc.wait(60) == 0, console.text()[-3000:]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
    assert "stopping every process" in console.text()
    wait_for("no process left on the site's data", lambda: processes_using(root) == [], 15)


def _leader(text: str) -> str | None:
    last = text.rsplit("leader: ", 1)
    if len(last) < 2:
        return None
    name = last[1].split()[0]
    return None if name == "none" else name


def _dots(text: str, colour: str) -> int:
    """How many devices the latest status block shows with this dot."""
    if "internet:" not in text:
        return 0
    return text.rsplit("internet:", 1)[1].count(f"dot {colour} ")


def order(client: ControlClient, table: str, items: list[str]) -> None:
    """Open a check at ``table``, add ``items`` and fire them (each acknowledged)."""
    opened = wait_for(
        "an open check",
        lambda: _ok(client.submit({"type": "open_check", "by": "s-ana", "table": table})),
        30,
    )
    check = opened["outcome"]["check"]
    lines = [{"item": item, "seat": seat} for seat, item in enumerate(items, 1)]
    for command in (
        {"type": "add_items", "by": "s-ana", "check": check, "items": lines},
        {"type": "fire", "by": "s-ana", "check": check},
    ):
        reply = client.submit(command)
        assert reply["ok"], reply


def _ok(reply: dict[str, Any]) -> dict[str, Any] | None:
    return reply if reply.get("ok") else None
