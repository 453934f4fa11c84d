"""Fixtures for the terminal's UI tests: a virtual screen, and terminals on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.procs import ProcessReaper
from tests.support.ui import UiApp, VirtualScreen, ui_unavailable

TERMINAL = "terminal.main:run"


@pytest.fixture
def screen(reaper: ProcessReaper) -> VirtualScreen:
    """An Xvfb display for this test (skips, saying why, where there is none)."""
    reason = ui_unavailable()
    if reason is not None:
        pytest.skip(reason)
    return VirtualScreen(reaper)


@pytest.fixture
def terminal(
    screen: VirtualScreen, reaper: ProcessReaper, artifacts_dir: Path
) -> Iterator[Callable[..., UiApp]]:
    """A factory: ``terminal(data_dir, name="A")`` runs the app with its node on ``data_dir``."""
    apps: list[UiApp] = []

    def start(data_dir: Path, name: str = "A", size: tuple[int, int] = (1280, 800)) -> UiApp:
        app = UiApp(
            reaper, screen, TERMINAL, [data_dir], artifacts=artifacts_dir, name=name, size=size
        )
        apps.append(app)
        return app

    try:
        yield start
    finally:
        for app in apps:
            app.close()
    for app in apps:
        # The app keeps serving after a bug (it logs it): a test must still fail on one.
        assert "unhandled error" not in app.log_path.read_text(errors="replace"), app.log_tail()
