"""First run: this device has no identity yet (no ``node.json``): enrol it with a manager's code.

The server types the manager's one-time code, names this terminal and picks
its address on the restaurant's network; **Enrol** joins the site off the UI
thread (``terminal.enrol``) and says meanwhile that it is looking for the site.
A refusal is shown in words and everything typed stays, so a retry is one tap.
Once the site said yes, the node starts like on any other start and the PIN pad
comes next.
"""

from __future__ import annotations

import time
from typing import Any

from kivy.clock import Clock
from kivy.factory import Factory
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.textinput import TextInput

from mesh.client.join import local_addresses
from terminal import enrol as joining
from terminal.screens.base import TerminalScreen

MAX_ADDRESSES = 6  # choices shown; LAN ones come first, loopback last
LOOKING = "Looking for the site on this network…"


class EnrolInput(TextInput):  # type: ignore[misc]
    """A one-line field of this screen (its looks are in setup.kv)."""


class EnrolCodeInput(EnrolInput):
    """The manager's code as it is shown on their screen: ABCD-EFGH, whatever case is typed."""

    text: str  # TextInput's property (Kivy has no type information)

    def on_text(self, _widget: Any, text: str) -> None:
        if joining.format_code(text) != text:
            # After the key is handled: TextInput moves its cursor once this event returns.
            Clock.schedule_once(self._reformat)

    def _reformat(self, _dt: float) -> None:
        text = self.text
        shown = joining.format_code(text)
        if shown == text:
            return
        # Keep the cursor after the same code character it followed.
        before = len(joining.format_code(text[: self.cursor_index()]).replace("-", ""))
        self.text = shown
        position = before + (1 if before > joining.CODE_GROUP else 0)
        self.cursor = (min(position, len(shown)), 0)


def name_filter(typed: str, _from_undo: bool) -> str:
    """A device name is letters, digits, ``-`` and ``_`` (the site refuses anything else)."""
    return "".join(ch for ch in typed if (ch.isascii() and ch.isalnum()) or ch in "-_")


class SetupScreen(TerminalScreen):
    title = "Set up this terminal"
    data_dir = StringProperty("")
    address = StringProperty("")
    sites = ListProperty([])  # filled when several sites answer: the server picks one
    site = StringProperty("")
    busy = BooleanProperty(False)
    wait_left = NumericProperty(0)  # s the site still refuses every code (too many tries)
    status = StringProperty("")
    status_tone = StringProperty("info")  # "info" (progress) or "error" (a refusal)
    name_filter = staticmethod(name_filter)
    default_port = str(joining.DEFAULT_PORT)
    _holding: Any = None  # the lockout's countdown (a Clock event), while one runs

    def prepare(self, **kwargs: object) -> None:
        self.data_dir = str(self.app.data_dir)
        if not self.ids.addresses.children:  # once: what was typed or picked stays
            self._offer_addresses(local_addresses()[:MAX_ADDRESSES])

    def complete(self, code: str, name: str, port: str, address: str) -> bool:
        """Whether Enrol can be tapped: a whole code, a name, an address and a port."""
        return (
            joining.code_complete(code)
            and bool(name)
            and bool(address)
            and joining.port_number(port) is not None
        )

    # -- choices ----------------------------------------------------------------
    def _offer_addresses(self, addresses: list[str]) -> None:
        box = self.ids.addresses
        box.clear_widgets()
        for i, address in enumerate(addresses):
            button = Factory.EnrolChoice(text=address, group="enrol-address")
            button.bind(on_release=lambda b, a=address: self._pick_address(b, a))
            if i == 0:
                button.state = "down"
                self.address = address
            box.add_widget(button)

    def _pick_address(self, button: Any, address: str) -> None:
        button.state = "down"  # a second tap on the chosen one keeps it chosen
        self.address = address

    def _offer_sites(self, sites: tuple[str, ...]) -> None:
        self.sites = list(sites)
        box = self.ids.sites
        box.clear_widgets()
        for site in sites:
            button = Factory.EnrolChoice(text=site, group="enrol-site")
            button.state = "down" if site == self.site else "normal"
            button.bind(on_release=lambda b, s=site: self._pick_site(b, s))
            box.add_widget(button)

    def _pick_site(self, button: Any, site: str) -> None:
        """Choosing the site is the answer to "which one?": enrol there at once."""
        button.state = "down"
        self.site = site
        self.enrol()

    # -- enrolling --------------------------------------------------------------
    def enrol(self) -> None:
        ids = self.ids
        port = joining.port_number(ids.port.text)
        if self.busy or self.wait_left > 0 or port is None:
            return
        if not self.complete(ids.code.text, ids.name.text, ids.port.text, self.address):
            return
        for field in (ids.code, ids.name, ids.port):
            field.focus = False
        request = joining.EnrolRequest(
            code=ids.code.text,
            name=ids.name.text,
            address=self.address,
            port=port,
            site=self.site or None,
        )
        self.busy = True
        self.status_tone = "info"
        started = time.monotonic()
        self.status = LOOKING

        def tick(_dt: float) -> None:
            # The browse alone takes seconds: a count shows the terminal is not stuck.
            self.status = f"{LOOKING} {int(time.monotonic() - started)} s"

        ticker = Clock.schedule_interval(tick, 1.0)

        def done(outcome: joining.EnrolOutcome) -> None:
            ticker.cancel()
            self._answered(outcome)

        joining.enrol_in_background(
            self.app.data_dir,
            request,
            lambda outcome: Clock.schedule_once(lambda _dt: done(outcome)),
        )

    def _answered(self, outcome: joining.EnrolOutcome) -> None:
        self.busy = False
        joined = outcome.joined
        if joined is None:
            self.status_tone = "error"
            self.status = outcome.words
            if outcome.sites:
                self._offer_sites(outcome.sites)
            if outcome.wait_s > 0:
                self._hold(outcome.wait_s)
            return
        self.status_tone = "info"
        self.status = f"Enrolled as {joined.node} at {joined.site}. Starting…"
        app = self.app
        app.dot_caption = "Starting"
        # The same start as any other: the node runs as a learner and the leader fills its log.
        app.backend.start(app._node_ready, app._node_failed, app._no_identity)
        app.go("login")

    def _hold(self, seconds: int) -> None:
        """Count down the site's lockout on the Enrol button: a tap before it ends is refused."""
        until = time.monotonic() + seconds
        if self._holding is not None:  # refused again: the site's newer count is the one
            self._holding.cancel()

        def tick(_dt: float) -> bool:
            left = max(0, int(until - time.monotonic() + 0.99))
            self.wait_left = left
            return left > 0

        tick(0)
        self._holding = Clock.schedule_interval(tick, 0.5)

    def quit(self) -> None:
        self.app.stop()
