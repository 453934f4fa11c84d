"""Sync benchmark: a 10,000-check offline backlog, from the cloud returning to every node numbered.

One run on this machine, with real processes on loopback (fsync on):
- a site of 3 nodes linked to the reference cloud (``python -m cloud``, SQLite);
- the cloud is stopped, and N checks are opened offline through all 3 nodes
  (24 client threads; the rate is printed but is not the figure);
- the cloud is started again on the same port and database; the clock starts when
  it first answers ``/v1/health`` (and, separately, when its process was spawned);
- the clock stops when every node's ledger has nothing left unsynced (a check is
  acknowledged only after its number is committed, so "unsynced 0" on a node means
  every check is numbered there); each node's own finishing time is printed too.
Afterwards, untimed: every node shows a number for every check, the cloud holds
each check once, numbered 1..N without gaps, with the same numbers as the nodes.

Target (issue 8): under 10 s for N = 10,000.

Run: ``python bench/sync.py`` (``--quick`` for N = 1,000; ``--checks N`` for any N;
``--keep`` keeps the site's directory, whose node logs carry one ``uploaded`` line per
batch with its post and commit times).
Writes ``bench/results/sync.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mesh.net.addresses import free_tcp_ports  # noqa: E402
from mesh.net.control import ControlConnection, ControlError, request  # noqa: E402
from mesh.node import config as cfg  # noqa: E402
from mesh.node.site_setup import default_devices, init_site  # noqa: E402

RESULTS = ROOT / "bench" / "results"
THREADS_PER_NODE = 8
SETTLE_S = 2.0  # s of quiet before the cloud returns (snapshots, hashes of the opening)
POLL_S = 0.1  # between looks at every node's unsynced count
RETRIES = 5  # attempts of one open on a busy machine (same id: applied at most once)
RETRY_CODES = {"timeout", "no_quorum"}
CATCH_UP_LIMIT_S = 600.0  # give up after this long (the bench then reports a failure)


class SyncSite:
    """Three nodes and a cloud on loopback, in a temporary directory removed at the end."""

    def __init__(self, nodes: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tmbench-sync-"))
        (port,) = free_tcp_ports(1)
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.token = secrets.token_urlsafe(24)
        link = cfg.CloudConfig(url=self.url, token=self.token)
        init_site(self.root, default_devices(nodes), site="bench", cloud=link)
        self.names = [f"n{i}" for i in range(1, nodes + 1)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.cloud: subprocess.Popen[bytes] | None = None
        for name in self.names:
            self.start_node(name)
        for name in self.names:
            self.wait_ready(name)

    # -- processes ---------------------------------------------------------------
    def start_node(self, name: str) -> None:
        with (self.root / name / "node.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "mesh", "node", "--data", str(self.root / name),
                 "--log-level", "INFO"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip

    def start_cloud(self) -> tuple[float, float]:
        """Start the cloud; (monotonic time of the spawn, of its first healthy answer)."""
        data = self.root / "cloud"
        data.mkdir(exist_ok=True)
        genesis = self.root / self.names[0] / cfg.GENESIS_FILE
        spawned = time.monotonic()
        with (data / "cloud.log").open("ab") as log:
            self.cloud = subprocess.Popen(
                [sys.executable, "-m", "cloud", "--host", "127.0.0.1", "--port", str(self.port),
                 "--data", str(data), "--site", "bench", "--token", self.token,
                 "--catalog", str(genesis), "--log-level", "warning"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.cloud.poll() is not None:
                raise RuntimeError(f"the cloud exited; see {data / 'cloud.log'}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1.0).status_code == 200:
                    return spawned, time.monotonic()
            except httpx.HTTPError:
                pass
            time.sleep(0.01)
        raise RuntimeError("the cloud did not answer")

    def stop_cloud(self) -> None:
        assert self.cloud is not None
        self.cloud.send_signal(signal.SIGTERM)
        self.cloud.wait(30)
        self.cloud = None

    def close(self, *, remove: bool = True) -> None:
        procs = list(self.procs.values()) + ([self.cloud] if self.cloud else [])
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # a clean stop flushes the logs
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- the control socket --------------------------------------------------------
    def sock(self, name: str) -> Path:
        return cfg.control_socket_path(self.root / name)

    def call(self, name: str, op: str, **args: Any) -> dict[str, Any]:
        return request(self.sock(name), {"op": op, **args}, 30.0)

    def wait_ready(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.call(name, "status").get("ok"):
                    return
            except ControlError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{name} not ready")

    def wait(self, what: str, check: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = check()
            except ControlError:
                value = None
            if value:
                return value
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    def leader(self) -> str:
        # ``members``, not ``status``: a status computes the state's hash, which with
        # 10,000 checks blocks a node for a noticeable fraction of a second.
        def find() -> str | None:
            for name in self.names:
                for member in self.call(name, "members").get("members", []):
                    if member["raft_role"] == "leader":
                        return str(member["node"])
            return None

        found: str = self.wait("a leader", find, 30)
        return found


def open_offline(site: SyncSite, count: int) -> list[str]:
    """Open ``count`` checks through every node at once; their temporary IDs."""
    workers = [(name, k) for name in site.names for k in range(THREADS_PER_NODE)]
    ids: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(count))

    def run(name: str) -> None:
        conn = ControlConnection(site.sock(name), timeout=30)
        try:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                command = {"type": "open_check", "id": uuid.uuid4().hex, "by": "s-ana",
                           "table": str(i % 60 + 1), "guests": 2, "server": "s-ana"}  # fmt: skip
                for _attempt in range(RETRIES):
                    # A retry with the same command id is applied at most once.
                    reply = conn.request({"op": "submit", "command": command})
                    if reply.get("ok") or reply.get("error", {}).get("code") not in RETRY_CODES:
                        break
                with lock:
                    if reply.get("ok"):
                        ids.append(str(reply["outcome"]["check"]))
                    else:
                        errors.append(str(reply.get("error")))
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(name,)) for name, _ in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} opens failed, e.g. {errors[:3]}")
    return ids


def caught_up(site: SyncSite) -> bool:
    """Every node has applied what the leader has (``members``: no state hash to compute)."""
    members = site.call(site.leader(), "members")["members"]
    applied = {m["applied_index"] for m in members}
    return len(applied) == 1 and None not in applied


def numbered_on(site: SyncSite, name: str, ids: list[str]) -> int:
    """How many of ``ids`` the node shows with a number."""
    shown = {c["id"]: c["number"] for c in site.call(name, "checks", all=True)["checks"]}
    return sum(1 for i in ids if shown.get(i) is not None)


def unsynced(site: SyncSite, name: str) -> int:
    reply = site.call(name, "state")
    return int(reply["unsynced"])


def run(count: int, *, keep: bool = False) -> dict[str, Any]:
    site = SyncSite(3)
    try:
        leader = site.leader()
        site.start_cloud()
        site.wait("the cloud up", lambda: site.call(leader, "status")["cloud"]["cloud"] == "up", 30)
        site.wait("nothing unsynced", lambda: unsynced(site, leader) == 0, 30)
        site.stop_cloud()
        site.wait("the dot red", lambda: site.call(leader, "status")["dot"] == "red", 30)

        start = time.monotonic()
        ids = open_offline(site, count)
        opened_s = time.monotonic() - start
        print(f"opened {len(ids)} checks offline through {len(site.names)} nodes in "
              f"{opened_s:.1f} s ({len(ids) / opened_s:.0f}/s)", flush=True)  # fmt: skip
        site.wait("every node to hold every check", lambda: caught_up(site), 60)
        time.sleep(SETTLE_S)

        # The agent uploads oldest change first; a check's change is its opening, so the
        # check opened last (by stamped time, then ID) is the last to be numbered. Polling
        # only it keeps the nodes' loops free (a full list of 10,000 checks, or a state
        # hash, costs each node far more than the sync itself); the full check follows.
        leader = site.leader()
        listing = site.call(leader, "checks", all=True)["checks"]
        last_check = max((c["opened_at"], c["id"]) for c in listing)[1]
        term_before = max(site.call(n, "status")["term"] for n in site.names)
        spawned, healthy = site.start_cloud()
        done: dict[str, float] = {}
        deadline = time.monotonic() + CATCH_UP_LIMIT_S
        while len(done) < len(site.names) and time.monotonic() < deadline:
            for name in site.names:
                if (
                    name not in done
                    and site.call(name, "checks", check=last_check)["check"]["number"]
                ):
                    done[name] = time.monotonic()
            time.sleep(POLL_S)
        if len(done) < len(site.names):
            raise RuntimeError(f"not caught up within {CATCH_UP_LIMIT_S:g} s")
        # Had an older check stayed unnumbered, the clock runs on until it is numbered too
        # (a full listing per node: slow, so only now, and normally only once).
        for name in site.names:
            while numbered_on(site, name, ids) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: not every check numbered")
                time.sleep(1.0)
                done[name] = time.monotonic()
        last = max(done.values())
        elections = max(site.call(n, "status")["term"] for n in site.names) - term_before
        from_healthy, from_spawn = last - healthy, last - spawned
        per_node = {n: round(t - healthy, 2) for n, t in sorted(done.items())}
        print(f"cloud returned (process started -> healthy): {healthy - spawned:.2f} s")
        print(f"last of {count} offline checks numbered on every node: {from_healthy:.2f} s "
              f"after the cloud answered ({from_spawn:.2f} s after its process started); "
              f"per node {per_node}; {elections} new terms (elections) meanwhile; "
              "target < 10 s for 10,000")  # fmt: skip

        # Untimed: the numbers are right everywhere.
        shown = {}
        for name in site.names:
            checks = site.call(name, "checks", all=True)["checks"]
            shown[name] = {c["id"]: c["number"] for c in checks}
            missing = [i for i in ids if shown[name].get(i) is None]
            if missing:
                raise RuntimeError(f"{name}: {len(missing)} checks without a number")
        numbers = sorted(shown[leader][i] for i in ids)
        if numbers != list(range(numbers[0], numbers[0] + count)):
            raise RuntimeError("numbers have gaps or duplicates")
        if any(shown[n] != shown[leader] for n in site.names):
            raise RuntimeError("the nodes show different numbers")
        print(f"verified: {count} checks, numbers {numbers[0]}..{numbers[-1]} "
              "without gaps or duplicates, the same on every node")  # fmt: skip
        return {
            "checks": count,
            "nodes": len(site.names),
            "open_offline_s": round(opened_s, 2),
            "cloud_start_to_healthy_s": round(healthy - spawned, 2),
            "catch_up_from_healthy_s": round(from_healthy, 2),
            "catch_up_from_spawn_s": round(from_spawn, 2),
            "per_node_from_healthy_s": per_node,
            "terms_during_catch_up": elections,
            "target_s": 10.0,
        }
    finally:
        site.close(remove=not keep)
        if keep:
            print(f"kept the site (node and cloud logs) in {site.root}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1,000")
    parser.add_argument("--checks", type=int, default=None, help="N (default 10,000)")
    parser.add_argument("--keep", action="store_true", help="keep the site's logs afterwards")
    args = parser.parse_args()
    count = args.checks or (1_000 if args.quick else 10_000)
    result = run(count, keep=args.keep)
    result["machine"] = {"cores": os.cpu_count()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sync.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
