"""A whole site on one machine: ``tablemesh demo`` (and ``--headless`` for scripts and tests).

Creates the site's data directories on first use (``site init``), starts one
``tablemesh node`` process per device on loopback, waits until each answers on
its control socket, then writes ``DIR/site.json``::

    {"nodes": [{"name", "data", "pid", "address"}],
     "cloud": {"url", "pid", "token", "admin_token"} | null,
     "staff": [{"id", "name", "role", "pin"}]}

The cloud (the reference back office, on SQLite in ``DIR/cloud``) is started
first, seeded with the site and the same sample catalog the nodes start with.
The demo then stays in the foreground until SIGTERM or Ctrl-C, when it stops
every process it started, by pid (SIGTERM first so a leader hands over, then
SIGKILL). A device a script kills is not restarted; the demo reaps it (no
``<defunct>`` zombie left behind) and says once on standard error that it exited.

This module is the headless site and the helpers every demo shares; the
windowed demo and its console are ``mesh.demo_windows`` (its site.json adds
each device's ``kind`` and ``station``), the scripted evening
``mesh.demo_script``, the process handling both use ``mesh.demo_site``.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from mesh.net.addresses import free_tcp_ports
from mesh.net.control import ControlError, request
from mesh.node import config as cfg
from mesh.node.site_setup import DeviceSpec, init_site, write_site_file
from mesh.sync.probe import cloud_healthy

READY_TIMEOUT_S = 60.0  # s for every node to answer on its control socket
STOP_GRACE_S = 5.0  # s between SIGTERM and SIGKILL on shutdown
STAFF_FILE = "staff.json"
CLOUD_FILE = "cloud.json"

DEMO_ROLES = ["hub", "terminal", "terminal", "kds", "kds", "handheld", "handheld"]
DEMO_STATIONS = {3: "grill", 4: "expo"}


def demo_devices(count: int) -> list[DeviceSpec]:
    return [
        DeviceSpec(
            name=f"n{i + 1}",
            role=DEMO_ROLES[i % len(DEMO_ROLES)],
            station=DEMO_STATIONS.get(i),
        )
        for i in range(count)
    ]


def _node_dirs(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.iterdir() if (p / cfg.CONFIG_FILE).exists()),
        key=lambda p: (len(p.name), p.name),
    )


def prepare_cloud(root: Path, with_cloud: bool) -> dict[str, Any] | None:
    """The cloud's address and tokens, chosen on first use and kept in ``cloud.json``."""
    path = root / CLOUD_FILE
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    if not with_cloud:
        return None
    (port,) = free_tcp_ports(1)
    cloud = {
        "url": f"http://127.0.0.1:{port}",
        "port": port,
        "token": secrets.token_urlsafe(24),
        "admin_token": secrets.token_urlsafe(24),
    }
    cfg.write_json_atomically(path, cloud)
    return cloud


def prepare_site(root: Path, nodes: int, cloud: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The site's staff logins; creates the site on first use, reuses it afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    staff_path = root / STAFF_FILE
    if not _node_dirs(root):
        link = cfg.CloudConfig(url=cloud["url"], token=cloud["token"]) if cloud else None
        logins = init_site(root, demo_devices(nodes), site="demo", cloud=link)
        staff = [{"id": s.staff_id, "name": s.name, "role": s.role, "pin": s.pin} for s in logins]
        cfg.write_json_atomically(staff_path, staff)
    loaded: list[dict[str, Any]] = json.loads(staff_path.read_text()) if staff_path.exists() else []
    return loaded


def start_cloud(root: Path, cloud: dict[str, Any], catalog: Path) -> subprocess.Popen[bytes]:
    """The reference back office, seeded with the site and its catalog (idempotent)."""
    data = root / "cloud"
    data.mkdir(exist_ok=True)
    log = (data / "cloud.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "cloud", "--host", "127.0.0.1", "--port", str(cloud["port"]),
             "--data", str(data), "--site", "demo", "--token", cloud["token"],
             "--catalog", str(catalog), "--admin-token", cloud["admin_token"],
             "--log-level", "warning"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    finally:
        log.close()


def wait_cloud(cloud: dict[str, Any], proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the cloud exited with {proc.returncode}; see cloud/cloud.log")
        if cloud_healthy(cloud["url"]):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the cloud did not answer within {READY_TIMEOUT_S:g} s")


def start_node(data_dir: Path) -> subprocess.Popen[bytes]:
    log = (data_dir / "node.log").open("ab")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "mesh", "node", "--data", str(data_dir)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


def wait_ready(data_dir: Path, proc: subprocess.Popen[bytes], deadline: float) -> None:
    path = cfg.control_socket_path(data_dir)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"node {data_dir.name} exited with {proc.returncode}; see {data_dir / 'node.log'}"
            )
        with contextlib.suppress(ControlError):
            if request(path, {"op": "status"}, 2.0).get("ok"):
                return
        time.sleep(0.1)
    raise RuntimeError(f"node {data_dir.name} did not answer within {READY_TIMEOUT_S:g} s")


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every live one, wait up to the grace, then SIGKILL what is left (by pid)."""
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)


def report_exits(
    named: dict[str, subprocess.Popen[bytes]], reported: set[str], out: TextIO
) -> None:
    """Reap each started process that exited (``poll`` waits for it) and say so, once.

    Nothing is restarted: a device killed from outside stays dead, as a
    restaurant's would. A reaped ``Popen`` is never signalled again, so
    ``stop_all`` cannot hit a pid the system has since given to another process.
    """
    for name, proc in named.items():
        if name in reported or proc.poll() is None:
            continue
        reported.add(name)
        print(
            f"tablemesh demo: {name} (pid {proc.pid}) exited with {proc.returncode}; not restarted",
            file=out,
            flush=True,
        )


def run_headless(root: Path, nodes: int, *, with_cloud: bool = True, announce: bool = True) -> int:
    root = root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    cloud = prepare_cloud(root, with_cloud and not _node_dirs(root))
    staff = prepare_site(root, nodes, cloud)
    dirs = _node_dirs(root)
    procs: list[subprocess.Popen[bytes]] = []
    cloud_proc: subprocess.Popen[bytes] | None = None
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        if cloud is not None:
            cloud_proc = start_cloud(root, cloud, dirs[0] / cfg.GENESIS_FILE)
            procs.append(cloud_proc)
            wait_cloud(cloud, cloud_proc, deadline)
        node_procs = [start_node(d) for d in dirs]
        procs.extend(node_procs)
        for d, proc in zip(dirs, node_procs, strict=True):
            wait_ready(d, proc, deadline)
        site = {
            "nodes": [
                {
                    "name": d.name,
                    "data": str(d),
                    "pid": proc.pid,
                    "address": cfg.load(d).bind,
                }
                for d, proc in zip(dirs, node_procs, strict=True)
            ],
            "cloud": None
            if cloud is None or cloud_proc is None
            else {
                "url": cloud["url"],
                "pid": cloud_proc.pid,
                "token": cloud["token"],
                "admin_token": cloud["admin_token"],
            },
            "staff": staff,
        }
        path = write_site_file(root, site)
        if announce:
            print(f"site running: {len(node_procs)} nodes; described in {path}", flush=True)
            if cloud is not None:
                print(f"cloud: {cloud['url']} (site 'demo')", flush=True)
            for member in staff:
                print(f"  staff {member['name']:<5} {member['role']:<10} PIN {member['pin']}")
            print(f"try: tablemesh ctl --data {dirs[0]} status", flush=True)
            print("Ctrl-C stops everything.", flush=True)
        # A device killed from outside (a test, a fault injector) stays dead: the
        # rest of the site keeps running, as a restaurant's would.
        named = {f"node {d.name}": proc for d, proc in zip(dirs, node_procs, strict=True)}
        if cloud_proc is not None:
            named = {"the cloud": cloud_proc, **named}
        reported: set[str] = set()
        while not stop:
            report_exits(named, reported, sys.stderr)
            time.sleep(0.2)
        return 0
    finally:
        stop_all(procs)
        for s, handler in old.items():
            signal.signal(s, handler)
