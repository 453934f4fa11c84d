"""First run by touch: a terminal with an empty data directory enrols with a manager's code.

A live 3-node site on loopback advertises itself over mDNS on 127.0.0.1 (so its
guest door is open), and so does a one-device decoy site: the terminal always
meets several sites and the server picks one by touch (any other site this
machine advertises on loopback only adds a name to that choice). On the
set-up screen, at 1024x768: a wrong code is refused in words and everything
typed stays (a port already taken on this device is refused before the
site is asked); a code made on the leader, typed in lower case, enrols the
terminal: it reaches the PIN pad, the leader lists it as a learner, and a
server logs in on it with a PIN. The other refusals' words are checked without a
window (a full lockout takes five wrong codes, each an mDNS browse).

Keys are typed through the X server (XTEST), as a keyboard plugged into the
terminal would type them: X, then SDL2, then Kivy's focused text field.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mesh.node.site_setup import default_devices, init_site
from terminal.enrol import EnrolRequest, code_complete, explain, format_code
from tests.support.cluster import Cluster, wait_for
from tests.support.ports import free_port
from tests.support.procs import ProcessReaper
from tests.support.ui import UiApp, VirtualScreen
from tests.terminal.flows import login

pytestmark = [pytest.mark.ui, pytest.mark.timeout(360)]

SIZE = (1024, 768)
TOUCH_MIN_PX = 48  # 48 dp at Xvfb's density (1 px per dp)
JOIN_S = 90.0  # an mDNS browse (8 s) and the leader's commit, on two busy cores
NAME = "bar-2"
WRONG_CODE = "7kq2m9xd"  # made before any code exists, so it cannot be right
KEY_GAP_S = 0.02  # s between two keys: a fast typist, and no event is coalesced


class LoopbackSite(Cluster):
    """A Cluster with a site name of its own, advertised by mDNS on 127.0.0.1.

    ``Cluster`` names every site "test"; two sites of one name on the same
    loopback would be one site to a joining device, so this test names its own.
    """

    def __init__(self, root: Path, reaper: ProcessReaper, *, site: str, nodes: int) -> None:
        self.root, self.reaper = root, reaper
        specs = default_devices(nodes)
        # mdns=True: every node advertises on 127.0.0.1 (its host) with its guest door.
        self.logins = init_site(root, specs, site=site, mdns=True)
        self.names = [d.name for d in specs]
        self.procs = {}


class XKeyboard:
    """Key presses on a virtual screen through the XTEST extension (libXtst, by ctypes)."""

    def __init__(self, display: str) -> None:
        x11_path, xtst_path = ctypes.util.find_library("X11"), ctypes.util.find_library("Xtst")
        if x11_path is None or xtst_path is None:
            pytest.skip("libX11 or libXtst is not installed (Debian: apt-get install libxtst6)")
        self._x11 = ctypes.CDLL(x11_path)
        self._xtst = ctypes.CDLL(xtst_path)
        self._x11.XOpenDisplay.restype = ctypes.c_void_p
        self._x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self._x11.XStringToKeysym.restype = ctypes.c_ulong
        self._x11.XStringToKeysym.argtypes = [ctypes.c_char_p]
        self._x11.XKeysymToKeycode.restype = ctypes.c_ubyte
        self._x11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        self._x11.XFlush.argtypes = [ctypes.c_void_p]
        self._x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self._xtst.XTestFakeKeyEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_ulong,
        ]
        self._display = self._x11.XOpenDisplay(display.encode())
        if not self._display:
            raise AssertionError(f"cannot open X display {display}")

    def _keycode(self, keysym: str) -> int:
        code = int(
            self._x11.XKeysymToKeycode(self._display, self._x11.XStringToKeysym(keysym.encode()))
        )
        assert code, f"no key for {keysym!r} on this keyboard map"
        return code

    def press(self, keysym: str, *, shift: bool = False) -> None:
        """One key down and up (``keysym`` as X names it: ``a``, ``5``, ``minus``, ``End``)."""
        key = self._keycode(keysym)
        shift_key = self._keycode("Shift_L")
        if shift:
            self._xtst.XTestFakeKeyEvent(self._display, shift_key, 1, 0)
        self._xtst.XTestFakeKeyEvent(self._display, key, 1, 0)
        self._xtst.XTestFakeKeyEvent(self._display, key, 0, 0)
        if shift:
            self._xtst.XTestFakeKeyEvent(self._display, shift_key, 0, 0)
        self._x11.XFlush(self._display)
        time.sleep(KEY_GAP_S)

    def type(self, text: str) -> None:
        for ch in text:
            if ch == "-":
                self.press("minus")
            else:
                assert ch.isascii() and ch.isalnum(), ch
                self.press(ch.lower(), shift=ch.isupper())

    def close(self) -> None:
        if self._display:
            self._x11.XCloseDisplay(self._display)
            self._display = None


@pytest.fixture
def keyboard(screen: VirtualScreen) -> Iterator[XKeyboard]:
    kb = XKeyboard(screen.display)
    try:
        yield kb
    finally:
        kb.close()


def field_shows(app: UiApp, field: str, expected: str, timeout: float = 10.0) -> None:
    """Until the text field ``field`` shows ``expected`` (typed keys arrive a frame later)."""
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        shown = app.find(id=field)["text"]
        if shown == expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"field {field} shows {shown!r}, not {expected!r}\n{app.log_tail()}")


def retype(app: UiApp, keyboard: XKeyboard, field: str, text: str, expected: str) -> None:
    """Touch the field, erase what it holds with the keys, type ``text``."""
    app.tap(id=field)
    keyboard.press("End")
    for _ in app.find(id=field)["text"]:
        keyboard.press("BackSpace")
    field_shows(app, field, "")
    keyboard.type(text)
    field_shows(app, field, expected)


def refusals(site: LoopbackSite, code: str) -> int:
    return sum(
        int(site.status(n)["counters"].get(f"enrol.refused.{code}", 0)) for n in site.alive()
    )


def test_a_new_terminal_enrols_with_a_managers_code_and_logs_in(
    tmp_path: Path,
    reaper: ProcessReaper,
    terminal: Callable[..., UiApp],
    keyboard: XKeyboard,
) -> None:
    tag = uuid.uuid4().hex[:8]
    site_name, decoy_name = f"first-run-{tag}", f"decoy-{tag}"
    site = LoopbackSite(tmp_path / "site", reaper, site=site_name, nodes=3)
    decoy = LoopbackSite(tmp_path / "decoy", reaper, site=decoy_name, nodes=1)
    site.start()
    decoy.start()
    site.leader(timeout=30)
    data = tmp_path / "bar-2"
    data.mkdir()
    port = free_port()

    app = terminal(data, "T", size=SIZE)
    app.wait("This terminal is not part of a site yet", timeout=60)
    assert app.find(id="enrol")["disabled"] is True  # nothing typed yet
    targets = (
        {"id": "code"},
        {"id": "name"},
        {"id": "port"},
        {"id": "enrol"},
        {"text": "127.0.0.1"},
    )
    for target in targets:
        height = app.find(**target)["height"]
        assert height >= TOUCH_MIN_PX, (target, height)
    app.screenshot("1-empty")

    # Fill the form as a server would: the code in lower case shows as the manager's.
    retype(app, keyboard, "code", WRONG_CODE, "7KQ2-M9XD")
    retype(app, keyboard, "name", NAME, NAME)
    app.tap("127.0.0.1")  # the sites advertise on loopback only
    # First a port a node of the site already listens on: refused before asking the site.
    taken = json.loads((site.data("n1") / "node.json").read_text())["bind"].rpartition(":")[2]
    retype(app, keyboard, "port", taken, taken)
    app.tap(id="enrol")
    app.wait(f"Port {taken} is already in use on this terminal", contains=True, timeout=10)
    app.screenshot("2-port-taken")
    retype(app, keyboard, "port", str(port), str(port))
    app.screenshot("3-filled")

    # Enrol: it looks for the site, and meets two; the server picks theirs.
    app.tap(id="enrol")
    app.wait("Looking for the site", contains=True, timeout=10)
    app.screenshot("4-looking")
    app.wait("Several sites answer", contains=True, timeout=JOIN_S)
    app.wait(decoy_name, timeout=5)
    app.screenshot("5-several-sites")
    app.tap(site_name)

    # The wrong code reaches the leader, is refused in words, and nothing typed is lost.
    app.wait("This code is not right", contains=True, timeout=JOIN_S)
    app.screenshot("6-wrong-code")
    assert app.find(id="code")["text"] == "7KQ2-M9XD"
    assert app.find(id="name")["text"] == NAME
    assert app.find(id="port")["text"] == str(port)
    assert app.find(id="enrol")["disabled"] is False
    assert refusals(site, "wrong_code") >= 1
    assert not (data / "node.json").exists()

    # A code made on the leader, typed in lower case: the terminal joins.
    made = site.client(site.leader()).call("enrol_code")
    assert made["ok"], made
    retype(app, keyboard, "code", made["code"].lower().replace("-", ""), made["code"])
    app.tap(id="enrol")
    app.wait("Looking for the site", contains=True, timeout=10)
    app.wait(id="pad", timeout=JOIN_S)
    app.screenshot("7-joined")
    assert (data / "node.json").exists()

    def learner() -> bool:
        members = site.client(site.leader()).members()["members"]
        row = next((m for m in members if m["node"] == NAME), None)
        return row is not None and not row["voter"]

    wait_for(f"{NAME} to be a learner", learner, JOIN_S)

    # A server logs in on the new terminal with a PIN the site knows.
    ana = next(s.pin for s in site.logins if s.staff_id == "s-ana")
    login(app, ana)
    app.wait("Ana · server")  # the top bar: who is logged in on this terminal
    app.screenshot("8-floor")


REQUEST = EnrolRequest(code="7KQ2-M9XD", name=NAME, address="127.0.0.1", port=7400)


def test_the_code_field_shows_what_the_manager_sees() -> None:
    assert format_code("7kq2m9xd") == "7KQ2-M9XD"
    assert format_code("7kq2 m9-xd ") == "7KQ2-M9XD"
    assert format_code("7kq2m9xdzz") == "7KQ2-M9XD"  # 8 characters at most
    assert format_code("7kq2") == "7KQ2"  # no dash until the second half starts
    assert code_complete("7KQ2-M9XD") and not code_complete("7KQ2-M9X")


def test_refusals_say_what_to_do_next() -> None:
    # The messages as the site sends them (mesh.node.join, mesh.node.admission).
    several = explain(
        "several_sites",
        "several sites answer here (cafe-1, grill): name the site",
        REQUEST,
        sites=("cafe-1", "grill"),
    )
    assert several.sites == ("cafe-1", "grill") and "Tap yours" in several.words
    locked = explain(
        "rate_limited",
        "too many wrong enrolment codes: try again in 42 s",
        REQUEST,
        retry_in_s=41.2,
    )
    assert locked.wait_s == 42 and "Wait 42 s" in locked.words
    in_use = explain("address_in_use", "port 7400 is already in use on this device", REQUEST)
    assert f"Port {REQUEST.port} is already in use" in in_use.words
    taken = explain("exists", f"a device named {NAME} is already enrolled", REQUEST)
    assert f"named {NAME} is already part of this site" in taken.words
    for code, words in [
        ("used_code", "already used. Ask the manager for a new code"),
        ("expired_code", "has expired"),
        ("no_site", "No site was found on this network"),
    ]:
        assert words in explain(code, "the site's own words", REQUEST).words, code
    # A reason this screen has no words for: the site's own message, as a sentence.
    assert explain("bad_answer", "the site's answer is incomplete", REQUEST).words == (
        "The site's answer is incomplete"
    )
