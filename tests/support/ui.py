"""A harness for real Kivy windows in tests: a virtual screen, apps in subprocesses, touches.

``VirtualScreen`` starts Xvfb on a display it picks itself (``-displayfd``), so
tests never collide on a display number. ``UiApp`` runs a Kivy app in a
subprocess on that screen through ``tests.support.ui_runner`` and drives it with
simulated touches (``tap``), bounded waits (``wait``), reads (``texts``) and
screenshots saved under the test's artifacts directory. Every process is
started through a ``ProcessReaper`` and killed by pid at the end, also on
failure; every wait has a deadline.

The test process itself never imports Kivy: only the app's process does.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.procs import ProcessReaper

ROOT = Path(__file__).resolve().parents[2]
XVFB_START_S = 15.0
APP_START_S = 60.0
PING_AGAIN_S = 10.0  # an unanswered start-up ping is sent again this often
TAP_WAIT_S = 5.0  # s a tap waits for its widget to be on screen
REPLY_S = 15.0  # s for any single request (a wait adds its own timeout)


class UiError(AssertionError):
    """The app did not do what the test asked in time (the message carries its log's tail)."""


def ui_unavailable() -> str | None:
    """Why a real window cannot run here (for ``pytest.skip``), or None when it can."""
    if shutil.which("Xvfb") is None:
        return "Xvfb is not installed (Debian: apt-get install xvfb)"
    if ctypes.util.find_library("mtdev") is None:
        return "libmtdev is not installed (Debian: apt-get install libmtdev1); Kivy needs it"
    return None


class VirtualScreen:
    """One Xvfb server; ``display`` is the value for ``DISPLAY``."""

    def __init__(self, reaper: ProcessReaper, size: tuple[int, int] = (1280, 800)) -> None:
        read_fd, write_fd = os.pipe()
        try:
            self.proc = reaper.spawn(
                [
                    "Xvfb",
                    "-displayfd",
                    str(write_fd),
                    "-screen",
                    "0",
                    f"{size[0]}x{size[1]}x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ],
                pass_fds=(write_fd,),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            os.close(write_fd)
            write_fd = -1
            number = _read_line(read_fd, XVFB_START_S)
        finally:
            if write_fd >= 0:
                os.close(write_fd)
            os.close(read_fd)
        if not number.strip().isdigit():
            raise UiError(f"Xvfb did not report a display ({number!r})")
        self.display = f":{number.strip()}"


def _read_line(fd: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 64)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


class UiApp:
    """A Kivy app in a subprocess on ``screen``, driven by requests to its runner.

    ``target`` is ``"module:function"``; ``args`` are passed to it (``Path``
    values arrive as ``Path``). ``artifacts`` receives the app's log and the
    screenshots; ``name`` tells two apps of one test apart.
    """

    def __init__(
        self,
        reaper: ProcessReaper,
        screen: VirtualScreen,
        target: str,
        args: list[str | Path],
        *,
        artifacts: Path,
        name: str = "app",
        size: tuple[int, int] = (1280, 800),
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.artifacts = artifacts
        artifacts.mkdir(parents=True, exist_ok=True)
        self.log_path = artifacts / f"{name}.log"
        kivy_home = artifacts / f".kivy-{name}"
        kivy_home.mkdir(exist_ok=True)
        full_env = {
            **os.environ,
            "DISPLAY": screen.display,
            "KIVY_HOME": str(kivy_home),  # never the user's ~/.kivy
            "KIVY_NO_ARGS": "1",
            "KCFG_GRAPHICS_WIDTH": str(size[0]),
            "KCFG_GRAPHICS_HEIGHT": str(size[1]),
            "TABLEMESH_TERMINAL_SIZE": f"{size[0]}x{size[1]}",
            "SDL_AUDIODRIVER": "dummy",
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        }
        argv = [sys.executable, "-m", "tests.support.ui_runner", target]
        argv += [f"path:{a}" if isinstance(a, Path) else a for a in args]
        with self.log_path.open("ab") as log:
            self.proc = reaper.spawn(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=full_env,
                cwd=str(ROOT),
            )
        self._reaper = reaper
        self._buffer = b""
        self._seq = 0
        self._early: dict[int, dict[str, Any]] = {}
        try:
            self._wait_started()
        except BaseException:
            # Closed here, not left to the garbage collector: an open pipe found later
            # fails whichever test is running then (an unraisable ResourceWarning).
            reaper.kill(self.proc)
            for pipe in (self.proc.stdin, self.proc.stdout):
                if pipe is not None:
                    pipe.close()
            raise

    def _wait_started(self) -> None:
        """The app answers a ping (its root is built), within ``APP_START_S``.

        A ping that goes unanswered is sent again every ``PING_AGAIN_S``: once in a CI
        run the first ping of a terminal whose node had started got no answer in 60 s
        (not seen again in repeated runs). A hung app answers none of them; a lost
        ping is said in the test's output, so it is not hidden.
        """
        deadline = time.monotonic() + APP_START_S
        sent: list[int] = []
        while True:
            sent.append(self.send("ping"))
            wait = min(PING_AGAIN_S, deadline - time.monotonic())
            try:
                self.receive(sent[-1], wait, op="ping")
                break
            except UiError:
                answered = [seq for seq in sent if seq in self._early]
                if answered:
                    self._early.pop(answered[0])
                    break
                if time.monotonic() >= deadline or self.proc.poll() is not None:
                    raise
        if len(sent) > 1:
            print(f"{self.name}: started, {len(sent)} pings sent before one was answered")

    # -- the protocol ---------------------------------------------------------
    def request(self, op: str, *, timeout: float = REPLY_S, **fields: Any) -> dict[str, Any]:
        """Send one request; return its reply (raise ``UiError`` if not ok or too late)."""
        return self.receive(self.send(op, **fields), timeout, op=op)

    def send(self, op: str, **fields: Any) -> int:
        """Send a request without waiting; ``receive`` its reply later (by its number)."""
        self._seq += 1
        seq = self._seq
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps({"op": op, "seq": seq, **fields}) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError as exc:
            raise UiError(f"{self.name} has exited\n{self.log_tail()}") from exc
        return seq

    def receive(self, seq: int, timeout: float = REPLY_S, *, op: str = "") -> dict[str, Any]:
        if seq in self._early:
            reply = self._early.pop(seq)
        else:
            deadline = time.monotonic() + timeout
            while True:
                line = self._next_line(deadline)
                if line is None:
                    raise UiError(
                        f"{self.name}: no reply to request {seq} {op} in {timeout:g} s\n"
                        f"{self.log_tail()}"
                    )
                reply = json.loads(line)
                if reply.get("seq") == seq:
                    break
                self._early[int(reply.get("seq", -1))] = reply  # another request's answer
        if not reply.get("ok"):
            raise UiError(
                f"{self.name}: request {seq} {op} failed: {reply.get('error')}\n"
                f"on screen: {reply.get('texts')}\n{reply.get('trace', '')}"
            )
        return dict(reply)

    def _next_line(self, deadline: float) -> str | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or (
                self.proc.poll() is not None and not select.select([fd], [], [], 0)[0]
            ):
                return None
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    return None
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    # -- what tests do --------------------------------------------------------
    def tap(
        self,
        text: str | None = None,
        *,
        id: str | None = None,
        contains: bool = False,
        index: int = 0,
    ) -> float:
        """Touch a widget shown on screen (by its text or kv id); the monotonic time of the tap."""
        reply = self.request(
            "tap",
            timeout=TAP_WAIT_S + REPLY_S,
            timeout_s=TAP_WAIT_S,
            **_selector(text, id, contains, index),
        )
        return float(reply["at"])

    def wait(
        self,
        text: str | None = None,
        *,
        id: str | None = None,
        contains: bool = False,
        gone: bool = False,
        timeout: float = 10.0,
        index: int = 0,
    ) -> float:
        """Until the widget is on screen (or gone); the monotonic time it was first seen."""
        sel = _selector(text, id, contains, index)
        reply = self.request(
            "wait", timeout=timeout + REPLY_S, gone=gone, **sel, **{"timeout_s": timeout}
        )
        return float(reply["at"])

    def find(
        self,
        text: str | None = None,
        *,
        id: str | None = None,
        contains: bool = False,
        index: int = 0,
    ) -> dict[str, Any]:
        return self.request("find", **_selector(text, id, contains, index))

    def watch_change(
        self,
        *,
        id: str | None = None,
        text: str | None = None,
        contains: bool = False,
        then_tap: dict[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> int:
        """Start watching the texts of the widgets that match (widget ``id``, or those
        showing ``text``) for a change (and maybe tap something right after); returns the
        request number: ``receive`` it for ``at`` (and ``tap_at``)."""
        fields: dict[str, Any] = {
            **_selector(text, id, contains, 0),
            "changes": True,
            "timeout_s": timeout,
        }
        if then_tap is not None:
            fields["then_tap"] = then_tap
        return self.send("wait", **fields)

    def texts(self) -> list[str]:
        return list(self.request("texts")["texts"])

    def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{name}.png"
        self.request("screenshot", path=str(path))
        return path

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def close(self, timeout: float = 20.0) -> int | None:
        """Ask the app to stop (it stops its node cleanly); kill it by pid if it does not."""
        with contextlib.suppress(UiError, OSError, ValueError):
            if self.proc.poll() is None:
                self.request("stop", timeout=5)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._reaper.kill(self.proc)
            code = None
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        return code


def _selector(text: str | None, id: str | None, contains: bool, index: int) -> dict[str, Any]:
    if (text is None) == (id is None):
        raise ValueError("give exactly one of text or id")
    sel: dict[str, Any] = {"id": id} if id is not None else {"text": text, "contains": contains}
    sel["index"] = index
    return sel
