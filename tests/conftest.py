"""Fixtures the whole suite shares: data dirs, loopback ports, a process reaper,
a leak guard, and network-namespace labs.

The leak guard fails any test that leaves a thread or a child process behind:
such leftovers make later tests flaky and hide shutdown bugs in the product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import leaks
from tests.support.netns import NetnsLab, NetnsUnavailable
from tests.support.ports import free_port as _free_port
from tests.support.procs import ProcessReaper

LEAK_GRACE = 3.0  # seconds leftovers get to finish before the guard fails the test
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def tmp_data_dir(tmp_path: Path) -> Path:
    """An empty directory for one node's (or one service's) data."""
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A factory: each call returns a free TCP port on 127.0.0.1."""
    return _free_port


@pytest.fixture
def reaper() -> Iterator[ProcessReaper]:
    """Start processes with ``reaper.spawn([...])``; all are SIGKILLed by pid at teardown."""
    r = ProcessReaper()
    try:
        yield r
    finally:
        r.reap()


@pytest.fixture
def artifacts_dir(request: pytest.FixtureRequest) -> Path:
    """Where a test keeps screenshots and logs worth looking at (git-ignored)."""
    d = ARTIFACTS / request.node.name.replace("/", "_")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def netns_lab() -> Iterator[Callable[[int], NetnsLab]]:
    """A factory for labs of N namespaced hosts on a bridge; every lab is removed afterwards.

    Skips the test, with the reason, where this machine does not allow namespaces.
    """
    labs: list[NetnsLab] = []

    def make(count: int) -> NetnsLab:
        try:
            lab = NetnsLab(count)
        except NetnsUnavailable as exc:
            pytest.skip(f"network namespaces unavailable: {exc}")
        labs.append(lab)
        return lab

    try:
        yield make
    finally:
        for lab in labs:
            lab.close()


@pytest.fixture(autouse=True)
def leak_guard() -> Iterator[None]:
    before = leaks.baseline()
    yield
    left = leaks.leftovers(before, LEAK_GRACE)
    if left:
        pytest.fail("test left behind " + ", ".join(left))
