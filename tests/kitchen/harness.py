"""Drive real KDS windows from a test: a private X server each, a JSON pipe to the app.

``Display`` starts one Xvfb (it picks a free display number itself with
``-displayfd``); ``Kds`` starts ``tests.kitchen.kds_driver`` on it: the real
kitchen app with its embedded node, plus a request pipe. Each KDS gets its own
X server so screenshots never catch another window's pixels. Every process is
started through the test's reaper (killed by pid at the end, also on failure),
and every wait here is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tests.support.procs import ProcessReaper

ROOT = Path(__file__).resolve().parents[2]
XVFB_START_S = 10.0
KDS_READY_S = 60.0  # Kivy import + embedded node start on a slow tablet-class CPU
REQUEST_S = 15.0
SCREEN = "1920x1080x24"


def xvfb_missing() -> str | None:
    """Why a UI test cannot run here, or None."""
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (Debian package xvfb): the KDS needs a display"
    return None


class Display:
    def __init__(self, reaper: ProcessReaper, log: Path, wrap: Sequence[str] = ()) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.proc = reaper.spawn(
                [*wrap, "Xvfb", "-displayfd", str(write_fd), "-screen", "0", SCREEN,
                 "-nolisten", "tcp", "-noreset"],
                log=log,
                pass_fds=(write_fd,),
            )  # fmt: skip
        finally:
            os.close(write_fd)
        try:
            self.number = _read_display(read_fd, XVFB_START_S)
        finally:
            os.close(read_fd)
        self.name = f":{self.number}"


def _read_display(fd: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    data = b""
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        with contextlib.suppress(BlockingIOError):
            chunk = os.read(fd, 64)
            if not chunk and not data:
                raise AssertionError("Xvfb exited before it told its display number")
            data += chunk
            if data.endswith(b"\n"):
                return int(data.strip())
        time.sleep(0.02)
    raise AssertionError(f"Xvfb did not start within {timeout:g} s")


class Kds:
    """One kitchen screen process: ``request``, ``state``, ``wait_for``, taps, keys."""

    def __init__(
        self,
        reaper: ProcessReaper,
        data_dir: Path,
        station: str | None,
        *,
        log: Path,
        wrap: Sequence[str] = (),
    ) -> None:
        self.reaper = reaper
        self.data_dir = data_dir
        self.display = Display(reaper, log.with_suffix(".xvfb.log"), wrap)
        env = {**os.environ, "DISPLAY": self.display.name, "PYTHONPATH": str(ROOT)}
        env.pop("WAYLAND_DISPLAY", None)
        argv = [sys.executable, "-m", "tests.kitchen.kds_driver", "--data", str(data_dir)]
        if station:
            argv += ["--station", station]
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as err:
            self.proc = reaper.spawn(
                [*wrap, *argv],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                cwd=ROOT,
                env=env,
            )
        self.log = log
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._seq = 0
        self._lock = threading.Lock()

    def ready(self, timeout: float = KDS_READY_S) -> Kds:
        """Wait until the window is up and the driver listens."""
        first = self._next(timeout)
        assert first.get("seq") == "ready", first
        return self

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                self._replies.put(json.loads(line))
        self._replies.put({"seq": "eof"})

    def _next(self, timeout: float) -> dict[str, Any]:
        try:
            got = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"the KDS did not answer within {timeout:g} s\n{self.tail()}"
            ) from None
        if got.get("seq") == "eof":
            raise AssertionError(f"the KDS exited\n{self.tail()}")
        return got

    def request(self, cmd: str, timeout: float = REQUEST_S, **args: Any) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            seq = self._seq
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps({"seq": seq, "cmd": cmd, **args}) + "\n").encode())
            self.proc.stdin.flush()
            deadline = time.monotonic() + timeout
            while True:
                got = self._next(max(0.01, deadline - time.monotonic()))
                if got.get("seq") == seq:
                    return got

    def do(self, cmd: str, **args: Any) -> dict[str, Any]:
        got = self.request(cmd, **args)
        assert got.get("ok"), got
        return got

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.do("state")["state"]
        return state

    def wait_for(
        self, what: str, check: Callable[[dict[str, Any]], Any], timeout: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            state = self.state()
            if check(state):
                return state
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last: {state}")

    def screenshot(self, path: Path) -> Path:
        self.do("screenshot", path=str(path))
        return path

    def same_as_whole(self, artifacts: Path, what: str) -> dict[str, Any]:
        """Assert the picture on screen equals the same window drawn whole at once (the
        frames drawn only where they changed left no stale pixel); a difference saves
        both pictures to ``artifacts``."""
        got = self.do("compare_full", save=str(artifacts / f"partial-{what.replace(' ', '-')}"))
        assert got["differ"] == 0, f"after {what}: {got['differ']} stale pixels in {got['box']}"
        return got

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def close(self) -> None:
        """Kill the app and its display by pid; the pipe reader ends with the process."""
        for proc in (self.proc, self.display.proc):
            self.reaper.kill(proc)
        self._reader.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
