"""A site of real node processes on loopback, for tests (and the fault-injection harness).

``Cluster`` writes the site with ``site init``, starts one ``tablemesh node``
process per device through the test's ``ProcessReaper`` (so every one is killed
by pid afterwards, also on failure), and offers the few moves tests make: find
the leader, kill -9 or SIGTERM a node, restart it, wait until every node has the
same applied index and state hash. Every wait is bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mesh.client.api import ClientError, ControlClient
from mesh.node import config as cfg
from mesh.node.site_setup import DeviceSpec, default_devices, init_site
from tests.support.netns import NetnsLab
from tests.support.procs import ProcessReaper

READY_S = 30.0
POLL_S = 0.05


class ClusterTimeout(AssertionError):
    pass


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except (ClientError, OSError, KeyError) as exc:
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(POLL_S)
    raise ClusterTimeout(f"timed out after {timeout:g} s waiting for {what} ({last_error})")


class Cluster:
    def __init__(
        self,
        root: Path,
        reaper: ProcessReaper,
        *,
        nodes: int | None = None,
        devices: list[DeviceSpec] | None = None,
        tweak: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.root = root
        self.reaper = reaper
        specs = devices or default_devices(nodes or 3)
        self.logins = init_site(root, specs, site="test")
        self.names = [d.name for d in specs]
        if tweak is not None:
            for name in self.names:
                path = self.data(name) / cfg.CONFIG_FILE
                raw = json.loads(path.read_text())
                tweak(raw)
                cfg.write_json_atomically(path, raw)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def data(self, name: str) -> Path:
        return self.root / name

    def client(self, name: str, timeout: float = 10.0) -> ControlClient:
        return ControlClient(self.data(name), timeout=timeout)

    # -- processes --------------------------------------------------------------
    def start(self, names: Iterable[str] | None = None, *, wait: bool = True) -> None:
        names = list(names or self.names)
        for name in names:
            self.procs[name] = self.reaper.spawn(
                [sys.executable, "-m", "mesh", "node", "--data", str(self.data(name))],
                log=self.data(name) / "node.log",
            )
        if wait:
            for name in names:
                wait_for(f"{name} to answer", lambda n=name: self.status(n), READY_S)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(15)

    def alive(self) -> list[str]:
        # A copy taken in one step: tests call this from a writer thread while the
        # main thread kills (and forgets) a node.
        procs = list(self.procs.items())
        return [n for n, p in procs if p.poll() is None]

    # -- reading ----------------------------------------------------------------
    def open_check(self, via: str, table: str = "1", server: str = "s-ana") -> str:
        """Open a check for ``table`` through node ``via``; its temporary ID."""
        reply = self.client(via).submit(
            {"type": "open_check", "by": server, "table": table, "guests": 2, "server": server}
        )
        assert reply["ok"], reply
        check: str = reply["outcome"]["check"]
        return check

    def status(self, name: str) -> dict[str, Any]:
        reply = self.client(name, timeout=5.0).status()
        assert reply["ok"], reply
        return reply

    def leader(self, among: Iterable[str] | None = None, timeout: float = 15.0) -> str:
        """The node that is leader, agreed on by itself; waits until there is one."""
        names = list(among or self.alive())

        def find() -> str | None:
            for name in names:
                with contextlib.suppress(ClientError, AssertionError):
                    st = self.status(name)
                    if st["role"] == "leader" and st["in_quorum"]:
                        return name
            return None

        found: str = wait_for("a leader", find, timeout)
        return found

    def converged(self, names: Iterable[str] | None = None, timeout: float = 30.0) -> str:
        """Wait until every node has applied the same index with the same hash; return it."""
        names = list(names or self.alive())

        def same() -> str | None:
            states = [self.status(n) for n in names]
            commits = {s["commit_index"] for s in states}
            applied = {(s["applied_index"], s["state_hash"]) for s in states}
            if len(applied) == 1 and len(commits) == 1:
                index, digest = applied.pop()
                if index == commits.pop():
                    return str(digest)
            return None

        found: str = wait_for(f"{names} to converge", same, timeout)
        return found

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.data(name) / "node.log"
        with contextlib.suppress(OSError):
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class NetnsCluster(Cluster):
    """A Cluster whose nodes each run inside their own network namespace (see netns.NetnsLab).

    No node has a static peer address: each knows only the other devices' keys
    and learns where they listen from their mDNS adverts.
    """

    def __init__(
        self,
        root: Path,
        reaper: ProcessReaper,
        lab: NetnsLab,
        site: str = "nets",
        *,
        devices: int | None = None,
    ) -> None:
        """``devices``: how many of the lab's hosts are founding devices (default: all)."""
        self.root, self.reaper, self.lab = root, reaper, lab
        count = len(lab.hosts) if devices is None else devices
        specs = default_devices(count)
        self.logins = init_site(
            root,
            specs,
            site=site,
            hosts=[h.address for h in lab.hosts[:count]],
            mdns=True,
            static_peers=False,
        )
        self.names = [d.name for d in specs]
        self.hosts = dict(zip(self.names, lab.hosts[:count], strict=True))
        self.procs = {}

    def start(self, names: Iterable[str] | None = None, *, wait: bool = True) -> None:
        names = list(names or self.names)
        for name in names:
            argv = [sys.executable, "-m", "mesh", "node", "--data", str(self.data(name))]
            self.procs[name] = self.reaper.spawn(
                self.lab.exec_args(self.hosts[name], argv), log=self.data(name) / "node.log"
            )
        if wait:
            for name in names:
                wait_for(f"{name} to answer", lambda n=name: self.status(n), READY_S)
