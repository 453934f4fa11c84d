"""Start processes for a test and kill every one of them by pid afterwards, also on failure.

Each child gets its own process group (``start_new_session``) so that killing
the group also takes the grandchildren it may have started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHILD_PIDS_EXIT_WAIT = 5.0  # seconds a killed child gets to be reaped


class ProcessReaper:
    """Tracks processes started by one test; ``reap()`` SIGKILLs and waits for all of them."""

    def __init__(self) -> None:
        self._procs: list[subprocess.Popen[bytes]] = []
        self._pids: list[int] = []

    def spawn(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        log: Path | None = None,
        **kwargs: Any,
    ) -> subprocess.Popen[bytes]:
        """Popen ``args`` in a new session; stdout+stderr go to ``log`` when given."""
        kwargs.setdefault("stdin", subprocess.DEVNULL)
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            fh = log.open("ab")
            kwargs.setdefault("stdout", fh)
            kwargs.setdefault("stderr", subprocess.STDOUT)
        try:
            proc = subprocess.Popen(list(args), start_new_session=True, **kwargs)
        finally:
            if log is not None:
                fh.close()
        self._procs.append(proc)
        return proc

    def track(self, pid: int) -> None:
        """Also kill ``pid`` (started by something else, e.g. a demo) at the end."""
        self._pids.append(pid)

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        if sig == signal.SIGKILL:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=CHILD_PIDS_EXIT_WAIT)

    def reap(self) -> None:
        for pid in self._pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        for proc in self._procs:
            if proc.poll() is None:
                self.kill(proc)
            else:
                # The leader of the group exited; its children may not have.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + CHILD_PIDS_EXIT_WAIT
        for pid in self._pids:
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.05)
        self._procs.clear()
        self._pids.clear()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def child_pids(parent: int | None = None) -> set[int]:
    """Live (non-zombie) direct children of ``parent`` (this process by default), from /proc."""
    parent = os.getpid() if parent is None else parent
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(")") + 2 :].split()
        state, ppid = fields[0], int(fields[1])
        if ppid == parent and state != "Z":
            found.add(int(entry.name))
    return found
