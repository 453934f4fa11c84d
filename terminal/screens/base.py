"""What every screen shares: access to the app, and sending a command with Retry kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.app import App
from kivy.uix.screenmanager import Screen

from terminal.backend import PendingCommand, Reply


class TerminalScreen(Screen):  # type: ignore[misc]
    title = ""
    # Called to ``refresh`` after every change the node applies (False: the screen
    # follows what it shows itself, see ``Backend.follow``).
    refresh_on_change = True

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def prepare(self, **kwargs: Any) -> None:
        """Set what the screen shows before it is entered."""

    def refresh(self) -> None:
        """Read the node again (after a change, or when entered)."""

    def send(
        self,
        pending: PendingCommand,
        on_ok: Callable[[Reply], None],
        *,
        on_refused: Callable[[Reply], object] | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> None:
        """Submit ``pending``; on "not acknowledged" offer Retry with the very same command.

        Nothing the server typed is cleared on a failure: the screen still holds it.
        ``on_send`` is called each time the command is sent, Retry's included.
        """
        app = self.app
        if on_send is not None:
            on_send()

        def answered(reply: Reply) -> None:
            if reply.get("ok"):
                app.clear_notice()
                on_ok(reply)
                if self.refresh_on_change:
                    app.changed()
                return
            if on_refused is not None and on_refused(reply) is not None:
                return
            app.show_error(
                reply,
                retry=lambda: self.send(pending, on_ok, on_refused=on_refused, on_send=on_send),
            )

        app.backend.submit(pending, answered)
