"""Small helpers for the mesh.net tests: a descriptor leak check and bounded waits.

The suite's ``leak_guard`` already watches threads; ``no_fd_leaks`` adds open file
descriptors, which is how a ZeroMQ or zeroconf socket left open shows up.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

T = TypeVar("T")


def _open_fds() -> set[str]:
    try:
        return set(os.listdir("/proc/self/fd"))
    except FileNotFoundError:  # not Linux: skip the descriptor part of the check
        return set()


@pytest.fixture
def no_fd_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread or a file descriptor (socket) behind."""
    threads_before = set(threading.enumerate())
    fds_before = _open_fds()
    yield
    deadline = time.monotonic() + 5.0
    while True:
        extra_threads = [t for t in threading.enumerate() if t not in threads_before]
        extra_fds = _open_fds() - fds_before
        if not extra_threads and not extra_fds:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra_threads, f"threads left behind: {extra_threads}"
    details = {fd: _describe_fd(fd) for fd in sorted(extra_fds)}
    assert not extra_fds, f"file descriptors left behind: {details}"


def _describe_fd(fd: str) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return "?"


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Call ``probe`` until it returns something not None; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    attempts = 0
    while time.monotonic() < deadline and attempts < 100_000:
        attempts += 1
        result = await probe()
        if result is not None:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s ({attempts} attempts)")


def unique_site(prefix: str) -> str:
    """A site id no other test run on this machine uses: mDNS adverts on loopback are
    shared by every process, so two runs at once must not see each other's nodes."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
