"""Long pure work on this moment's state, in a forked child, while the node's loop serves.

A busy day's ledger takes a second or more to serialize (megabytes of canonical
JSON). A thread would not help: the JSON encoder holds the GIL for the whole call,
so the loop would stall just the same, longer than the election timeout, and a
leader doing it would be deposed by its followers. ``fork()`` hands a child the
state exactly as it is at that instant (copy-on-write, a few milliseconds); the
child computes, writes the result to a pipe and leaves with ``os._exit``; the
loop reads the pipe on a worker thread and goes on serving meanwhile.

The child must never touch what the parent's threads own (ZeroMQ sockets, the
SQLite connection, the zeroconf threads): it closes every inherited descriptor but
its pipe first, so it can neither write to them nor keep a port bound after the
parent dies, and it runs no cleanup on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import traceback
import warnings
from collections.abc import Callable

_OK = b"\x00"
_FAILED = b"\x01"
_FD_FLOOR = 1 << 16  # descriptors closed in the child at least up to here


class BackgroundFailed(Exception):
    """The child could not finish the work (its error, or how it died)."""


def can_fork() -> bool:
    return hasattr(os, "fork")


def _read_all(fd: int) -> bytes:
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _child(work: Callable[[], bytes], read_end: int, write_end: int) -> None:
    code = 1
    try:
        # A signal meant for the node must not be handled here, nor reach the
        # parent's loop through the wake-up descriptor both inherited.
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        os.close(read_end)
        with contextlib.suppress(OSError):
            # Background work: the node, and the other devices' processes on a shared
            # machine, come first. (All of a site's nodes snapshot at about the same
            # index: on a two-core machine running a whole site, five children at full
            # priority would compete with every node's loop for the CPU.)
            os.nice(19)
        os.closerange(3, write_end)
        os.closerange(write_end + 1, max(_FD_FLOOR, os.sysconf("SC_OPEN_MAX")))
        try:
            out = _OK + work()
        except BaseException:
            out = _FAILED + traceback.format_exc(limit=5).encode(errors="replace")
        view = memoryview(out)
        while view:
            view = view[os.write(write_end, view) :]
        code = 0
    finally:
        os._exit(code)


class Child:
    """``work()`` running in a child forked when this object is made."""

    def __init__(self, work: Callable[[], bytes]) -> None:
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():
            # Python 3.12 warns that forking a threaded process may deadlock the child
            # on a lock another thread held; this child takes none (no I/O but its
            # pipe, no logging) and leaves with os._exit.
            warnings.simplefilter("ignore", DeprecationWarning)
            try:
                pid = os.fork()
            except BaseException:
                os.close(read_end)
                os.close(write_end)
                raise
        if pid == 0:  # pragma: no cover - the child; its outcome is what the parent checks
            _child(work, read_end, write_end)
        os.close(write_end)
        self.pid = pid
        self._read_end = read_end

    async def result(self) -> bytes:
        """The child's bytes once it is done. Raises ``BackgroundFailed`` if the work
        raised or the child died; cancelling the caller kills the child."""
        reading = asyncio.ensure_future(asyncio.to_thread(_read_all, self._read_end))
        try:
            out = await asyncio.shield(reading)
        except BaseException:
            self.kill()
            raise
        _, status = await asyncio.to_thread(os.waitpid, self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if out[:1] == _OK and code == 0:
            return out[1:]
        if out[:1] == _FAILED:
            raise BackgroundFailed(out[1:].decode(errors="replace").strip())
        raise BackgroundFailed(f"the child exited with {code}")

    def kill(self) -> None:
        """Kill and reap the child (its pipe then ends, which frees the reader)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)  # killed: returns at once


async def in_child(work: Callable[[], bytes]) -> bytes:
    """``work()`` run in a child forked now; its bytes once it is done."""
    return await Child(work).result()
