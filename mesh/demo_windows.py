"""``tablemesh demo`` with windows: a restaurant on one screen, and a console to break it.

Five devices by default: ``n1`` a headless hub node, ``n2`` and ``n3`` terminal
windows, ``n4`` the grill's kitchen screen and ``n5`` the expo screen (each
window hosts its own node, so no separate node runs on its data directory);
devices past the fifth are headless handhelds. The windows are tiled on a
3440x1440 area (terminals above, kitchen screens below), so a virtual screen of
that size (Xvfb) shows all four; on a smaller desktop they overlap.

The control surface is this console: a numbered menu read from standard input,
and a status block reprinted whenever the leader, a role or a dot changes. With
no usable standard input it just serves until Ctrl-C or SIGTERM. Quitting stops
every process it started, by pid. Without a display it says so and exits 2: it
never starts a display of its own, because windows nobody can see help nobody
(use ``--headless``, or ``xvfb-run`` to get screenshots).
"""

from __future__ import annotations

import os
import re
import select
import signal
import stat
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from mesh.demo import (
    READY_TIMEOUT_S,
    _node_dirs,
    prepare_cloud,
    prepare_site,
)
from mesh.demo_site import DemoSite, Device
from mesh.node import config as cfg
from mesh.node.site_setup import write_site_file

NO_DISPLAY_EXIT = 2
START_FAILED_EXIT = 1
TERMINAL_SIZE = (1024, 700)  # px: the terminal's minimum window
# px: the kitchen screen is laid out for a 1920x1080 KDS; its header needs about
# 1700 px, or the status dot at its right end falls outside the window.
KITCHEN_SIZE = (1720, 700)
WINDOW_GAP = 20  # px between the two rows
# Terminals side by side on the top row, the kitchen screens below them.
SCREEN_SIZE = (2 * KITCHEN_SIZE[0], TERMINAL_SIZE[1] + KITCHEN_SIZE[1] + 2 * WINDOW_GAP)


def window_boxes() -> dict[str, tuple[int, int, int, int]]:
    """Where each window of the standard five-device demo goes: (left, top, right, bottom)."""
    tw, th = TERMINAL_SIZE
    kw, kh = KITCHEN_SIZE
    top2 = th + WINDOW_GAP
    return {
        "terminal-0": (0, 0, tw, th),
        "terminal-1": (tw, 0, 2 * tw, th),
        "kitchen-0": (0, top2, kw, top2 + kh),
        "kitchen-1": (kw, top2, 2 * kw, top2 + kh),
    }


WINDOW_READY_S = 2 * READY_TIMEOUT_S  # s: four Kivy windows share the CPU at start
POLL_S = 1.0  # s between two status polls of every device
KITCHEN_STAFF = "k-dev"  # the sample kitchen cook: bumps without a PIN on the demo screens

DOT_WORDS = {
    "green": "green  (online, all synced)",
    "amber": "amber  (syncing a backlog)",
    "red": "red    (offline: selling continues)",
    "cut_off": "CUT OFF (no quorum: frozen)",
}

MENU = """\
control: type a number and Enter
  1          cut the internet (stop the cloud)
  2          restore the internet (start the cloud)
  3          kill -9 the leader
  4 NAME     kill -9 a device (e.g. 4 n2)
  5 NAME     restart a device
  6 NAME     stop a device cleanly (a leader hands over first)
  s          show the status now
  h          this menu
  q          quit: stop everything"""


def display_missing() -> str | None:
    """Why no window can open here, or None when one can."""
    display = os.environ.get("DISPLAY", "")
    if os.environ.get("WAYLAND_DISPLAY"):
        return None
    local = re.match(r"^(?:unix)?:(\d+)(?:\.\d+)?$", display)
    if display and not (local and not Path(f"/tmp/.X11-unix/X{local[1]}").exists()):
        return None
    # SDL does not fail without a display: it falls back to a driver that draws
    # nowhere, so the demo would look fine and show nothing. Say so instead.
    why = f"no X server answers on $DISPLAY {display}" if display else "$DISPLAY is not set"
    return (
        f"tablemesh demo: no display ({why}), so the terminal and kitchen "
        "windows cannot open.\n"
        "  run the same site without windows:   tablemesh demo --headless\n"
        "  or on a virtual screen (screenshots): "
        f"xvfb-run -s '-screen 0 {SCREEN_SIZE[0]}x{SCREEN_SIZE[1]}x24' tablemesh demo"
    )


def windowed_devices(root: Path) -> list[Device]:
    """Each data directory as the device the demo shows it as, with its window's place."""
    devices = []
    boxes = window_boxes()
    placed = {"terminal": 0, "kitchen": 0}
    for data in _node_dirs(root):
        conf = cfg.load(data)
        kind = {"terminal": "terminal", "kds": "kitchen"}.get(conf.role, "node")
        env: dict[str, str] = {}
        if kind != "node" and placed[kind] < 2:
            left, top, right, bottom = boxes[f"{kind}-{placed[kind]}"]
            placed[kind] += 1
            kivy_home = root / "kivy" / conf.node
            kivy_home.mkdir(parents=True, exist_ok=True)
            env = {
                # Kivy reads KCFG_<SECTION>_<KEY> over its config file: place the window.
                "KCFG_GRAPHICS_POSITION": "custom",
                "KCFG_GRAPHICS_LEFT": str(left),
                "KCFG_GRAPHICS_TOP": str(top),
                "TABLEMESH_TERMINAL_SIZE": f"{right - left}x{bottom - top}",
                "KIVY_HOME": str(kivy_home),  # never the user's own ~/.kivy settings
                "KIVY_NO_ARGS": "1",
            }
        elif kind != "node":
            kind = "node"  # more windows than fit: the extra devices run headless
        if kind == "kitchen":
            _write_kitchen_settings(data)
        devices.append(Device(name=conf.node, data=data, kind=kind, station=conf.station, env=env))
    return devices


def _write_kitchen_settings(data: Path) -> None:
    # The screen's size, and a cook who bumps without a PIN; a manager's own file stays.
    path = data / "kitchen.json"
    if not path.exists():
        settings = {
            "width": KITCHEN_SIZE[0],
            "height": KITCHEN_SIZE[1],
            "default_staff": KITCHEN_STAFF,
        }
        cfg.write_json_atomically(path, settings, mode=0o644)


def run_windowed(root: Path, nodes: int) -> int:
    missing = display_missing()
    if missing is not None:
        print(missing, file=sys.stderr, flush=True)
        return NO_DISPLAY_EXIT
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    cloud = prepare_cloud(root, not _node_dirs(root))
    staff = prepare_site(root, nodes, cloud)
    site = DemoSite(root, windowed_devices(root), cloud)
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        site.start_cloud()
        for device in site.devices.values():
            site.start(device.name, wait=False)
        for device in site.devices.values():
            timeout = READY_TIMEOUT_S if device.kind == "node" else WINDOW_READY_S
            site.wait_ready(device.name, timeout)
        path = write_site_file(root, site.site_json(staff))
        _announce(site, staff, path)
        interactive = _usable_stdin()
        if interactive:
            print(MENU, flush=True)
        else:
            print("no console input: serving until Ctrl-C or SIGTERM", flush=True)
        _control_loop(site, staff, lambda: stop, interactive)
        return 0
    except RuntimeError as exc:
        # A window that cannot open (a stale $DISPLAY, no GL) exits at once: say which.
        print(f"tablemesh demo: {exc}", file=sys.stderr, flush=True)
        return START_FAILED_EXIT
    finally:
        print("stopping every process the demo started ...", flush=True)
        site.stop_all()
        for s, handler in old.items():
            signal.signal(s, handler)


def _announce(site: DemoSite, staff: list[dict[str, Any]], path: Path) -> None:
    print(f"site running, described in {path}", flush=True)
    if site.cloud is not None:
        print(f"cloud: {site.cloud['url']} (site 'demo')")
    for d in site.devices.values():
        what = {
            "node": "headless node",
            "terminal": "terminal window",
            "kitchen": f"kitchen window ({d.station or 'expo'})",
        }[d.kind]
        print(f"  {d.name:<4} {what:<24} pid {d.pid}")
    print("staff PINs (log in on a terminal with these):")
    for member in staff:
        print(f"  {member['name']:<5} {member['role']:<10} PIN {member['pin']}")
    print("Ctrl-C or q stops everything.", flush=True)


def _usable_stdin() -> bool:
    """A console or a pipe (a script driving the demo); not /dev/null, not a closed stdin."""
    try:
        if sys.stdin is None or sys.stdin.closed:
            return False
        fd = sys.stdin.fileno()
        return os.isatty(fd) or stat.S_ISFIFO(os.fstat(fd).st_mode)
    except (OSError, ValueError):
        return False


def _control_loop(
    site: DemoSite,
    staff: list[dict[str, Any]],
    stopped: Callable[[], bool],
    interactive: bool,
    out: TextIO = sys.stdout,
) -> None:
    shown = ""
    next_poll = 0.0
    pending = b""
    while not stopped():
        if time.monotonic() >= next_poll:
            view = status_view(site)
            if view != shown:
                print(f"\n[{datetime.now():%H:%M:%S}] {view}", file=out, flush=True)
                shown = view
            next_poll = time.monotonic() + POLL_S
        if not interactive:
            time.sleep(0.2)
            continue
        fd = sys.stdin.fileno()
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        # Raw reads, not readline: a pipe may deliver several commands at once and
        # select cannot see what a text buffer already holds.
        chunk = os.read(fd, 4096)
        if not chunk:
            interactive = False
            print("console input closed: serving until Ctrl-C or SIGTERM", file=out, flush=True)
            continue
        pending += chunk
        while b"\n" in pending:
            raw, _, pending = pending.partition(b"\n")
            if act(site, staff, raw.decode(errors="replace").strip(), out) == "quit":
                return
            shown = ""  # show where things stand after every action
            next_poll = 0.0


def act(site: DemoSite, staff: list[dict[str, Any]], line: str, out: TextIO) -> str | None:
    """Do one console command; ``"quit"`` to stop the demo."""
    word, _, arg = line.partition(" ")
    arg = arg.strip()

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    if word in ("q", "quit", "exit"):
        return "quit"
    if word in ("h", "help", "?", ""):
        say(MENU)
    elif word == "s":
        pass  # the status block follows every command
    elif word == "1":
        site.stop_cloud()
        say("internet cut: the cloud is stopped. Selling continues; dots turn red.")
    elif word == "2":
        say("restoring the internet ...")
        try:
            site.start_cloud()
            say("the cloud is back: the leader uploads the backlog and numbers the checks.")
        except RuntimeError as exc:
            say(f"the cloud did not start: {exc}")
    elif word == "3":
        leader = site.leader()
        if leader is None:
            say("no device says it leads right now")
        else:
            pid = site.kill(leader)
            say(
                f"kill -9 {pid}: the leader {leader} is gone; a new one takes over "
                f"(5 {leader} brings it back)"
            )
    elif word in ("4", "5", "6"):
        if arg not in site.devices:
            say(f"which device? one of {', '.join(site.devices)} (e.g. {word} n2)")
        elif word == "4":
            pid = site.kill(arg)
            say(f"kill -9 {pid}: {arg} is down" if pid else f"{arg} is not running")
        elif word == "5":
            if site.devices[arg].alive:
                say(f"{arg} is already running")
            else:
                site.restart(arg, wait=False)
                say(
                    f"{arg} restarting (pid {site.devices[arg].pid}); it catches up from the leader"
                )
                _rewrite_site_file(site, staff)
        else:
            site.stop(arg)
            say(f"{arg} stopped cleanly")
    else:
        say(f"unknown command {line!r}; h for the menu")
    return None


def _rewrite_site_file(site: DemoSite, staff: list[dict[str, Any]]) -> None:
    # site.json names live pids: a restarted device has a new one.
    write_site_file(site.root, site.site_json(staff))


def status_view(site: DemoSite) -> str:
    """The status block: internet, leader, and every device's role and dot."""
    statuses = site.statuses()
    leader = site.leader(statuses)
    lead_status = statuses[leader] if leader else None
    term = lead_status["term"] if lead_status else None
    internet = "up" if site.cloud_up else ("CUT" if site.cloud is not None else "none")
    lines = [
        f"internet: {internet}    leader: {leader or 'none'}"
        + (f" (term {term})" if term is not None else "")
    ]
    for name, device in site.devices.items():
        what = device.kind if device.kind != "kitchen" else f"kitchen/{device.station or 'expo'}"
        s = statuses[name]
        if not device.alive:
            state = "down (5 " + name + " restarts it)"
        elif s is None:
            state = "starting / not answering"
        else:
            dot = DOT_WORDS.get(str(s.get("dot")), str(s.get("dot")))
            backlog = (s.get("cloud") or {}).get("backlog")
            extra = f" backlog {backlog}" if backlog else ""
            state = f"{s.get('role', '?'):<13} dot {dot}{extra}"
        lines.append(f"  {name:<4} {what:<14} {state}")
    return "\n".join(lines)
