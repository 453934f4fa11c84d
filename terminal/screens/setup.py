"""First run: this device has no identity yet (no ``node.json`` in its data directory)."""

from __future__ import annotations

from kivy.properties import StringProperty

from terminal.screens.base import TerminalScreen


class SetupScreen(TerminalScreen):
    title = "Set up this terminal"
    data_dir = StringProperty("")

    def prepare(self, **kwargs: object) -> None:
        self.data_dir = str(self.app.data_dir)

    def quit(self) -> None:
        self.app.stop()
