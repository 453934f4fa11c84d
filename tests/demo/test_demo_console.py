"""The demo console without windows: the display check, the menu's answers, the status block."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mesh.demo_site import DemoSite, Device
from mesh.demo_windows import act, display_missing, status_view


def test_without_a_display_the_demo_says_so_and_suggests_headless(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    message = display_missing()
    assert message is not None and "$DISPLAY is not set" in message and "--headless" in message
    # A display number nothing listens on is no display either (SDL would draw nowhere).
    monkeypatch.setenv("DISPLAY", ":987654")
    message = display_missing()
    assert message is not None and "no X server answers" in message
    monkeypatch.setenv("DISPLAY", "remote.example:0")  # not checkable from here: trusted
    assert display_missing() is None
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert display_missing() is None


def test_console_commands_answer_and_name_what_they_need(tmp_path: Path) -> None:
    site = DemoSite(
        tmp_path,
        [
            Device(name="n1", data=tmp_path / "n1"),
            Device(name="n2", data=tmp_path / "n2", kind="terminal"),
        ],
        None,
    )
    out = io.StringIO()
    assert act(site, [], "q", out) == "quit"
    for line in ("h", "4", "5 n9", "4 n2", "3", "zzz"):
        assert act(site, [], line, out) is None
    said = out.getvalue()
    assert "kill -9 the leader" in said  # the menu
    assert "which device? one of n1, n2 (e.g. 4 n2)" in said
    assert "which device? one of n1, n2 (e.g. 5 n2)" in said
    assert "n2 is not running" in said
    assert "no device says it leads right now" in said
    assert "unknown command 'zzz'" in said
    view = status_view(site)
    assert view.startswith("internet: none    leader: none")
    assert "n2   terminal       down (5 n2 restarts it)" in view
