"""A site for fault injection: NetnsCluster plus the knobs the nemesis turns.

On top of ``tests.support.cluster.NetnsCluster`` (each node in its own network
namespace on a bridge, peers found by real mDNS):

- each node's data directory is a small tmpfs of its own, so the nemesis can fill
  it (a disk that refuses writes) without touching the machine's disks; a kill -9
  keeps the data (the tmpfs outlives the process), as a real disk would;
- node logs go to the run's artifact directory, outside the tmpfs, so a full
  disk does not also silence the log that would explain what happened;
- a second bridge in the bridge namespace for two-sided partitions;
- optionally the reference cloud on one more host of the lab, for the sync agent
  and for cloud outages;
- traffic control: this kernel may lack ``sch_netem`` (checked: no netem, no
  tc actions), so loss is an ``htb`` class whose queue holds nothing (``pfifo
  limit 0``) fed by a ``u32`` filter matching low bits of the IP id (a
  deterministic one-in-2/4/8 of packets), and delay is a ``tbf`` shaping the
  link to a low rate (queueing delay under load). One-way partitions use the same
  drop class on a bridge port, matching the far side's source addresses.

Everything created here is removed in ``close()``: processes by pid, mounts,
then the namespaces.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from mesh.node import config as cfg
from mesh.node.site_setup import default_devices, init_site
from tests.support.cluster import READY_S, NetnsCluster, wait_for
from tests.support.netns import Host, NetnsLab
from tests.support.procs import ProcessReaper

TMPFS_MB = 48  # per node: the log, snapshots and keys of a short run fit many times over
CMD_TIMEOUT = 10.0  # s for one `ip`/`tc`/`mount` command
SECOND_BRIDGE = "br1"
CLOUD_PORT = 8750
CLOUD_TOKEN = "fault-site-token-0123456789"  # a throw-away site token, 16+ chars


class SiteError(RuntimeError):
    pass


def run(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        args, capture_output=True, text=True, timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL
    )
    if check and proc.returncode != 0:
        raise SiteError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return proc


class FaultSite(NetnsCluster):
    """A NetnsCluster on per-node tmpfs data dirs, with partitions, shaping and disk faults.

    With ``cloud``, the lab's last host runs the reference back office (``python -m
    cloud``) and every node's config points its sync agent there; the cloud host is
    not a node.
    """

    def __init__(
        self,
        root: Path,
        reaper: ProcessReaper,
        lab: NetnsLab,
        logs: Path,
        site: str = "fault",
        snapshot_every: int | None = None,
        cloud: bool = False,
    ) -> None:
        self.root, self.reaper, self.lab = root, reaper, lab
        self.mounts: list[Path] = []
        self.logs = logs
        self.procs = {}
        self.cloud_proc: subprocess.Popen[bytes] | None = None
        logs.mkdir(parents=True, exist_ok=True)
        node_hosts = lab.hosts[:-1] if cloud else list(lab.hosts)
        self.cloud_host: Host | None = lab.hosts[-1] if cloud else None
        link = None
        if self.cloud_host is not None:
            self.cloud_url = f"http://{self.cloud_host.address}:{CLOUD_PORT}"
            link = cfg.CloudConfig(url=self.cloud_url, token=CLOUD_TOKEN)
        try:
            for i in range(1, len(node_hosts) + 1):
                d = root / f"n{i}"
                d.mkdir(parents=True, exist_ok=True)
                run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MB}m,mode=0700", "tmpfs", str(d)])
                self.mounts.append(d)
            specs = default_devices(len(node_hosts))
            self.logins = init_site(
                root,
                specs,
                site=site,
                hosts=[h.address for h in node_hosts],
                mdns=True,
                static_peers=False,
                cloud=link,
            )
            self.names = [d.name for d in specs]
            self.hosts = dict(zip(self.names, node_hosts, strict=True))
            if snapshot_every is not None:
                for name in self.names:
                    path = self.data(name) / cfg.CONFIG_FILE
                    raw = json.loads(path.read_text())
                    raw["snapshot_every"] = snapshot_every
                    cfg.write_json_atomically(path, raw)
        except BaseException:
            self.unmount()
            raise
        self.site = site
        self._split_ready = False
        self._shaped: set[tuple[str, str]] = set()  # (namespace, device) with a root qdisc

    # -- the cloud ---------------------------------------------------------------
    def start_cloud(self) -> None:
        """Start the back office in its namespace (its data outlives a kill -9)."""
        host = self.cloud_host
        if host is None or (self.cloud_proc is not None and self.cloud_proc.poll() is None):
            return
        data = self.root / "cloud"
        data.mkdir(exist_ok=True)
        # No --catalog: the cloud does not take the ledger's catalog format yet ("catalog is
        # missing top-level keys: menu, settings"); the site sells with its genesis catalog.
        argv = [sys.executable, "-m", "cloud", "--host", host.address, "--port", str(CLOUD_PORT),
                "--data", str(data), "--site", self.site, "--token", CLOUD_TOKEN,
                "--log-level", "warning"]  # fmt: skip
        self.cloud_proc = self.reaper.spawn(
            self.lab.exec_args(host, argv), log=self.logs / "cloud.log"
        )

    def kill_cloud(self) -> bool:
        proc, self.cloud_proc = self.cloud_proc, None
        if proc is None or proc.poll() is not None:
            return False
        self.reaper.kill(proc, signal.SIGKILL)
        return True

    # -- processes --------------------------------------------------------------
    def start(self, names: Iterable[str] | None = None, *, wait: bool = True) -> None:
        names = list(names or self.names)
        for name in names:
            argv = [sys.executable, "-m", "mesh", "node", "--data", str(self.data(name))]
            self.procs[name] = self.reaper.spawn(
                self.lab.exec_args(self.hosts[name], argv), log=self.logs / f"{name}.log"
            )
        if wait:
            for name in names:
                wait_for(f"{name} to answer", functools.partial(self.status, name), READY_S)

    def log_tail(self, name: str, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            text = (self.logs / f"{name}.log").read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return ""

    def kill9(self, name: str) -> bool:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return False
        self.reaper.kill(proc, signal.SIGKILL)
        return True

    def signal(self, name: str, sig: int) -> bool:
        proc = self.procs.get(name)
        if proc is None or proc.poll() is not None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)  # `ip netns exec` execs the node: this pid is the node
            return True
        return False

    def dead(self) -> list[str]:
        return [n for n in self.names if n not in self.procs or self.procs[n].poll() is not None]

    # -- partitions -------------------------------------------------------------
    def _bridge(self, *args: str) -> None:
        run(["ip", "-n", self.lab.bridge_ns, *args])

    def isolate(self, names: Iterable[str]) -> None:
        for name in names:
            self.lab.cut(self.hosts[name])

    def split(self, minority: Iterable[str]) -> None:
        """Move the minority's bridge ports to a second bridge: each side hears only itself."""
        if not self._split_ready:
            self._bridge("link", "add", SECOND_BRIDGE, "type", "bridge")
            self._bridge("link", "set", SECOND_BRIDGE, "up")
            self._split_ready = True
        for name in minority:
            self._bridge("link", "set", self.hosts[name].bridge_port, "master", SECOND_BRIDGE)

    def oneway(self, deaf: Iterable[str]) -> None:
        """``deaf`` hosts stop receiving from every other host (they still send)."""
        deaf = list(deaf)
        others = [self.hosts[n].address for n in self.names if n not in deaf]
        for name in deaf:
            port = self.hosts[name].bridge_port
            self._drop_class(["ip", "netns", "exec", self.lab.bridge_ns], port)
            for address in others:
                self._tc_bridge(
                    "filter",
                    "add",
                    "dev",
                    port,
                    "parent",
                    "1:",
                    "protocol",
                    "ip",
                    "prio",
                    "1",
                    "u32",
                    "match",
                    "ip",
                    "src",
                    f"{address}/32",
                    "flowid",
                    "1:20",
                )

    def _tc_bridge(self, *args: str) -> None:
        run(["ip", "netns", "exec", self.lab.bridge_ns, "tc", *args])

    def _drop_class(self, prefix: list[str], dev: str) -> None:
        """An htb root whose class 1:20 drops everything sent to it (1:10 passes the rest)."""
        tc = [*prefix, "tc"]
        run(
            [
                *tc,
                "qdisc",
                "add",
                "dev",
                dev,
                "root",
                "handle",
                "1:",
                "htb",
                "default",
                "10",
                "r2q",
                "1",
            ]
        )
        run(
            [
                *tc,
                "class",
                "add",
                "dev",
                dev,
                "parent",
                "1:",
                "classid",
                "1:10",
                "htb",
                "rate",
                "1gbit",
            ]
        )
        run(
            [
                *tc,
                "class",
                "add",
                "dev",
                dev,
                "parent",
                "1:",
                "classid",
                "1:20",
                "htb",
                "rate",
                "1gbit",
            ]
        )
        run(
            [
                *tc,
                "qdisc",
                "add",
                "dev",
                dev,
                "parent",
                "1:20",
                "handle",
                "20:",
                "pfifo",
                "limit",
                "0",
            ]
        )
        ns = prefix[3] if len(prefix) > 3 else ""
        self._shaped.add((ns, dev))

    def heal_network(self) -> None:
        """Every port back on br0 and up, every qdisc we added removed. Never raises."""
        hosts = [self.hosts[n] for n in self.names]
        if self.cloud_host is not None:
            hosts.append(self.cloud_host)
        for host in hosts:
            with contextlib.suppress(SiteError, subprocess.TimeoutExpired):
                if self._split_ready:
                    self._bridge("link", "set", host.bridge_port, "master", "br0")
            with contextlib.suppress(SiteError, subprocess.TimeoutExpired):
                self.lab.restore(host)
        for ns, dev in list(self._shaped):
            with contextlib.suppress(SiteError, subprocess.TimeoutExpired):
                run(
                    ["ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root"],
                    check=False,
                )
        self._shaped.clear()

    # -- link quality (inside a node's namespace) --------------------------------
    def lossy(self, name: str, one_in: int) -> None:
        host: Host = self.hosts[name]
        prefix = ["ip", "netns", "exec", host.name]
        self._drop_class(prefix, host.veth)
        mask = f"0x{one_in - 1:04x}"
        run(
            [
                *prefix,
                "tc",
                "filter",
                "add",
                "dev",
                host.veth,
                "parent",
                "1:",
                "protocol",
                "ip",
                "prio",
                "1",
                "u32",
                "match",
                "u16",
                "0x0000",
                mask,
                "at",
                "4",
                "flowid",
                "1:20",
            ]
        )

    def slow(self, name: str, kbit: int) -> None:
        host = self.hosts[name]
        run(
            [
                "ip",
                "netns",
                "exec",
                host.name,
                "tc",
                "qdisc",
                "add",
                "dev",
                host.veth,
                "root",
                "tbf",
                "rate",
                f"{kbit}kbit",
                "burst",
                "4kb",
                "latency",
                "400ms",
            ]
        )
        self._shaped.add((host.name, host.veth))

    def unshape(self, names: Iterable[str]) -> None:
        for name in names:
            host = self.hosts[name]
            run(
                ["ip", "netns", "exec", host.name, "tc", "qdisc", "del", "dev", host.veth, "root"],
                check=False,
            )
            self._shaped.discard((host.name, host.veth))

    def unoneway(self, names: Iterable[str]) -> None:
        for name in names:
            port = self.hosts[name].bridge_port
            self._tc_bridge_quiet("qdisc", "del", "dev", port, "root")
            self._shaped.discard((self.lab.bridge_ns, port))

    def _tc_bridge_quiet(self, *args: str) -> None:
        run(["ip", "netns", "exec", self.lab.bridge_ns, "tc", *args], check=False)

    def unsplit(self, names: Iterable[str]) -> None:
        for name in names:
            self._bridge("link", "set", self.hosts[name].bridge_port, "master", "br0")

    def restore(self, names: Iterable[str]) -> None:
        for name in names:
            self.lab.restore(self.hosts[name])

    # -- disk -------------------------------------------------------------------
    def filler(self, name: str) -> Path:
        return self.data(name) / "fill.bin"

    def fill_disk(self, name: str) -> int:
        """Take every free byte of the node's tmpfs; returns how many were taken."""
        path = self.filler(name)
        taken = 0
        with path.open("ab") as fh:
            for _ in range(64):  # bounded: tmpfs hands out pages until it has none
                free = os.statvfs(self.data(name)).f_bavail * os.statvfs(self.data(name)).f_frsize
                if free <= 0:
                    break
                chunk = min(free, 4 << 20)
                try:
                    fh.write(b"\0" * chunk)
                    fh.flush()
                    taken += chunk
                except OSError:
                    break
        return taken

    def free_disk(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.filler(name).unlink()

    # -- teardown ---------------------------------------------------------------
    def unmount(self) -> None:
        for d in reversed(self.mounts):
            proc = run(["umount", str(d)], check=False)
            if proc.returncode != 0:
                time.sleep(0.2)
                run(["umount", "-l", str(d)], check=False)
        self.mounts.clear()

    def close(self) -> None:
        """Kill every node by pid (SIGCONT first: a stopped process dies only once resumed)."""
        for name, proc in list(self.procs.items()):
            with contextlib.suppress(ProcessLookupError):
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGCONT)
            self.reaper.kill(proc, signal.SIGKILL)
            self.procs.pop(name, None)
        self.kill_cloud()
        self.reaper.reap()
        self.unmount()
