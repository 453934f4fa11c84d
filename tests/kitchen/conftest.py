"""Fixtures of the kitchen UI tests: KDS windows that are always closed, also on failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kitchen.harness import Kds, xvfb_missing
from tests.support.procs import ProcessReaper


@pytest.fixture
def kds_factory(reaper: ProcessReaper, tmp_path: Path) -> Iterator[Callable[..., Kds]]:
    """``kds_factory(data_dir, station)`` starts a KDS (not yet waited for: call ``.ready()``)."""
    reason = xvfb_missing()
    if reason:
        pytest.skip(reason)
    made: list[Kds] = []

    def make(data_dir: Path, station: str | None, **kw: Any) -> Kds:
        kds = Kds(reaper, data_dir, station, log=tmp_path / f"kds-{len(made)}.log", **kw)
        made.append(kds)
        return kds

    try:
        yield make
    finally:
        for kds in made:
            kds.close()
