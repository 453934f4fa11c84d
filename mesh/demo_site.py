"""The demo's processes, one object: start, kill, restart any device; cut the internet.

Used by the windowed demo's control surface and by the scripted walkthrough.
A device is either a headless ``tablemesh node`` or an app window that hosts
its own node (``tablemesh terminal`` / ``tablemesh kitchen``): never both on
one data directory. Every process is started here and stopped here, by pid.
This module never imports Kivy: the windows are separate processes.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.client.api import ClientError, ControlClient
from mesh.demo import (
    READY_TIMEOUT_S,
    start_cloud,
    stop_all,
    wait_cloud,
    wait_ready,
)
from mesh.node import config as cfg

STATUS_TIMEOUT_S = 1.0  # s a status poll waits for one device (a dead one answers at once)
KINDS = ("node", "terminal", "kitchen")


@dataclass(slots=True, kw_only=True)
class Device:
    name: str
    data: Path
    kind: str = "node"  # node (headless), terminal or kitchen (a window with its node inside)
    station: str | None = None
    env: dict[str, str] = field(default_factory=dict)  # extra environment (window placement)
    proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:
        command = [sys.executable, "-m", "mesh", self.kind, "--data", str(self.data)]
        if self.kind == "kitchen" and self.station:
            command += ["--station", self.station]
        return command

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None


class DemoSite:
    """The cloud and the devices of one demo site, and what can be done to them."""

    def __init__(self, root: Path, devices: list[Device], cloud: dict[str, Any] | None) -> None:
        self.root = root
        self.devices = {d.name: d for d in devices}
        self.cloud = cloud
        self.cloud_proc: subprocess.Popen[bytes] | None = None

    # -- the internet ---------------------------------------------------------
    @property
    def cloud_up(self) -> bool:
        return self.cloud_proc is not None and self.cloud_proc.poll() is None

    def start_cloud(self, timeout: float = READY_TIMEOUT_S) -> None:
        if self.cloud is None or self.cloud_up:
            return
        first = next(iter(self.devices.values()))
        self.cloud_proc = start_cloud(self.root, self.cloud, first.data / cfg.GENESIS_FILE)
        wait_cloud(self.cloud, self.cloud_proc, time.monotonic() + timeout)

    def stop_cloud(self) -> None:
        """The internet is cut: the back office goes away (its data stays)."""
        if self.cloud_proc is not None:
            stop_all([self.cloud_proc])

    # -- devices --------------------------------------------------------------
    def start(self, name: str, *, wait: bool = True, timeout: float = READY_TIMEOUT_S) -> None:
        device = self.devices[name]
        if device.alive:
            return
        log = (device.data / f"{device.kind}.log").open("ab")
        try:
            device.proc = subprocess.Popen(
                device.argv(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **device.env},
            )
        finally:
            log.close()
        if wait:
            self.wait_ready(name, timeout)

    def wait_ready(self, name: str, timeout: float = READY_TIMEOUT_S) -> None:
        device = self.devices[name]
        assert device.proc is not None
        wait_ready(device.data, device.proc, time.monotonic() + timeout)

    def kill(self, name: str) -> int | None:
        """kill -9 the device (a power cut); returns the pid it had."""
        device = self.devices[name]
        if not device.alive or device.proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            device.proc.kill()
        device.proc.wait(10)
        return device.proc.pid

    def stop(self, name: str) -> None:
        """A clean stop (SIGTERM: a leader hands over first), SIGKILL after a grace."""
        device = self.devices[name]
        if device.proc is not None:
            stop_all([device.proc])

    def restart(self, name: str, *, wait: bool = True) -> None:
        self.start(name, wait=wait)

    def stop_all(self) -> None:
        """Every process this site started, by pid: devices first, then the cloud."""
        stop_all([d.proc for d in self.devices.values() if d.proc is not None])
        if self.cloud_proc is not None:
            stop_all([self.cloud_proc])

    # -- what the site looks like -----------------------------------------------
    def client(self, name: str, timeout: float = STATUS_TIMEOUT_S) -> ControlClient:
        return ControlClient(self.devices[name].data, timeout=timeout)

    def status(self, name: str) -> dict[str, Any] | None:
        """The device's ``status`` reply, or None when it does not answer."""
        if not self.devices[name].alive:
            return None
        try:
            reply = self.client(name).status()
        except (ClientError, OSError):
            return None
        return reply if reply.get("ok") else None

    def statuses(self) -> dict[str, dict[str, Any] | None]:
        return {name: self.status(name) for name in self.devices}

    def leader(self, statuses: dict[str, dict[str, Any] | None] | None = None) -> str | None:
        """The device that says it leads (the highest term wins while an old one steps down)."""
        seen = statuses if statuses is not None else self.statuses()
        leaders = [
            (s.get("term", 0), name)
            for name, s in seen.items()
            if s is not None and s.get("role") == "leader"
        ]
        return max(leaders)[1] if leaders else None

    def site_json(self, staff: list[dict[str, Any]]) -> dict[str, Any]:
        """What ``DIR/site.json`` says (the format is documented in mesh/demo.py)."""
        return {
            "nodes": [
                {
                    "name": d.name,
                    "data": str(d.data),
                    "pid": d.pid,
                    "address": cfg.load(d.data).bind,
                    "kind": d.kind,
                    "station": d.station,
                }
                for d in self.devices.values()
            ],
            "cloud": None
            if self.cloud is None or self.cloud_proc is None
            else {
                "url": self.cloud["url"],
                "pid": self.cloud_proc.pid,
                "token": self.cloud["token"],
                "admin_token": self.cloud["admin_token"],
            },
            "staff": staff,
        }
