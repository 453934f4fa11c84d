"""Replication side by side: tablemesh against the peers a user could pick instead.

Same machine, same run, same client harness, 3 (and with ``--full`` also 5)
processes on loopback, ~100-byte commands, 1, 16 and 64 concurrent clients:

- ``tablemesh``: real node processes (``tablemesh node``), SQLite WAL with
  ``synchronous=FULL`` and group commit: durable (a majority fsynced before the ack).
- ``etcd``: etcd-server from Debian (``apt-get install etcd-server``), fsync of its
  WAL on every batch: durable. Driven over its v3 JSON gateway (``/v3/kv/put``) with
  one kept-alive HTTP connection per client. Skipped, saying so, when ``etcd`` is
  not on PATH.
- ``pysyncobj-journal``: PySyncObj with its file journal. The journal is an mmap
  that is never msync'ed and its term/vote file is written without fsync: it
  survives a process kill, not a power cut: NOT durable.
- ``pysyncobj-memory``: PySyncObj with its in-memory journal: NOT durable.
- ``sqlite-fsync``: one SQLite file, WAL, ``synchronous=FULL``, one transaction per
  command, no replication: the single-box floor a POS without a mesh would have.

PySyncObj has no client protocol, so each of its node processes serves a tiny Unix
socket (one line in, one line out) that calls a ``@replicated`` method with
``sync=True``: the same hop as tablemesh's control socket. Clients are threads of
this process, one kept-open connection each, spread over the nodes round-robin
(1 client: through the leader). A commit is counted when the system acknowledges it.
Also recorded: the CPU all server processes spent per commit (from /proc), which a
shared, noisy machine disturbs far less than wall-clock latency.

``--dinner`` runs the issue's dinner rush on the same systems instead: 20 clients,
each sending one command a second on its own steady beat, for 60 s, on 5 nodes.

Run: ``python bench/peers.py [--quick|--full|--dinner] [--nodes 5] [--only etcd]``.
Writes ``bench/results/peers.json`` (``peers-dinner.json`` with ``--dinner``)
(figures plus latency samples for the CDF plots). A benchmark, not a test: it asserts
nothing about time.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cluster import Client as MeshClient  # noqa: E402
from bench.cluster import Site, cpu_seconds, fsync_floor, loopback_rtt, pct  # noqa: E402
from mesh.net.control import ControlError  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PAYLOAD = b"x" * 100
SAMPLES_KEPT = 3000  # latency samples per run kept in the JSON, for the CDF plots


class PeerClient(Protocol):
    def submit(self) -> bool: ...
    def close(self) -> None: ...


class System(Protocol):
    name: str
    durability: str
    nodes: list[str]

    def leader(self) -> str: ...
    def client(self, via: str) -> PeerClient: ...
    def server_pids(self) -> list[int]: ...
    def close(self) -> None: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, probe: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if probe():
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what}: not ready within {timeout:.0f} s")


def kill_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    for proc in procs:
        proc.wait(10)


# -- tablemesh ---------------------------------------------------------------------
class _MeshPeerClient:
    def __init__(self, site: Site, via: str) -> None:
        self.inner = MeshClient(site, via)

    def submit(self) -> bool:
        # One command a call (a new table's open_check when its check is full): timing
        # an open_check and an add as one sample made every twentieth sample two commands.
        try:
            return self.inner.step()[1]
        except ControlError:
            return False

    def close(self) -> None:
        self.inner.conn.close()


class Tablemesh:
    name = "tablemesh"
    durability = "durable: SQLite WAL synchronous=FULL, majority fsynced before the ack"

    def __init__(self, nodes: int) -> None:
        self.site = Site(nodes)
        self.nodes = list(self.site.names)

    def leader(self) -> str:
        return self.site.leader()

    def client(self, via: str) -> PeerClient:
        return _MeshPeerClient(self.site, via)

    def server_pids(self) -> list[int]:
        return [p.pid for p in self.site.procs.values()]

    def close(self) -> None:
        self.site.close()


# -- PySyncObj ---------------------------------------------------------------------
def pysyncobj_node(
    self_addr: str, partners: list[str], sock: str, journal: str | None, batch: bool
) -> None:
    """Child process: one PySyncObj node serving ``put`` lines on a Unix socket."""
    from pysyncobj import SyncObj, SyncObjConf, SyncObjException, replicated

    class Store(SyncObj):  # type: ignore[misc]
        def __init__(self) -> None:
            conf = SyncObjConf(
                journalFile=journal, dynamicMembershipChange=False, appendEntriesUseBatch=batch
            )
            super().__init__(self_addr, partners, conf)
            self.data: dict[str, bytes] = {}

        @replicated  # type: ignore[untyped-decorator]
        def put(self, key: str, value: bytes) -> bool:
            self.data[key] = value
            return True

    store = Store()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock)
    server.listen(128)

    def serve(conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as f:
            for line in f:
                if line.startswith(b"?"):
                    f.write(b"L\n" if store._isLeader() else b"F\n")
                else:
                    try:
                        ok = store.put(uuid.uuid4().hex, line.rstrip(b"\n"), sync=True, timeout=10)
                    except SyncObjException:
                        ok = False
                    f.write(b"ok\n" if ok else b"err\n")
                f.flush()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


class _LineClient:
    def __init__(self, sock: Path) -> None:
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(15)
        try:
            self.s.connect(str(sock))
        except OSError:
            # The node may have bound its socket but not listen yet: a refused connect
            # must not leave the socket for the garbage collector to warn about.
            self.s.close()
            raise
        self.f = self.s.makefile("rwb")

    def ask(self, line: bytes) -> bytes:
        self.f.write(line + b"\n")
        self.f.flush()
        return self.f.readline().rstrip(b"\n")

    def submit(self) -> bool:
        try:
            return self.ask(PAYLOAD) == b"ok"
        except OSError:
            return False

    def close(self) -> None:
        self.f.close()
        self.s.close()


class PySyncObj:
    def __init__(self, nodes: int, journal: bool, batch: bool) -> None:
        self.name = "pysyncobj-journal" if journal else "pysyncobj-memory"
        self.durability = (
            "NOT durable: file journal via mmap, never msync'ed/fsync'ed"
            if journal
            else "NOT durable: in-memory journal"
        )
        self.root = Path(tempfile.mkdtemp(prefix="tmbench-pso-"))
        self.nodes = [f"p{i}" for i in range(1, nodes + 1)]
        addrs = {n: f"127.0.0.1:{free_port()}" for n in self.nodes}
        self.procs: list[subprocess.Popen[bytes]] = []
        for n in self.nodes:
            args = [sys.executable, str(Path(__file__)), "--pysyncobj-node", addrs[n],
                    str(self.sock(n)), *[a for m, a in addrs.items() if m != n]]  # fmt: skip
            if journal:
                args[2:2] = ["--journal", str(self.root / f"{n}.journal")]
            if batch:
                args[2:2] = ["--batch"]
            log = (self.root / f"{n}.log").open("ab")
            self.procs.append(
                subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT)
            )
            log.close()
        self.leader()

    def sock(self, node: str) -> Path:
        return self.root / f"{node}.sock"

    def leader(self) -> str:
        found: list[str] = []

        def probe() -> bool:
            for n in self.nodes:
                if not self.sock(n).exists():
                    continue
                c = _LineClient(self.sock(n))
                try:
                    if c.ask(b"?") == b"L":
                        found.append(n)
                        return True
                finally:
                    c.close()
            return False

        wait_for(self.name, probe)
        return found[0]

    def client(self, via: str) -> PeerClient:
        return _LineClient(self.sock(via))

    def server_pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def close(self) -> None:
        kill_all(self.procs)
        shutil.rmtree(self.root, ignore_errors=True)


# -- etcd --------------------------------------------------------------------------
def _etcd_call(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> Any:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    if resp.status != 200:
        raise ValueError(f"etcd {path}: HTTP {resp.status}")
    return json.loads(data)


class _EtcdClient:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        self.value = base64.b64encode(PAYLOAD).decode()

    def submit(self) -> bool:
        key = base64.b64encode(uuid.uuid4().hex.encode()).decode()
        try:
            _etcd_call(self.conn, "/v3/kv/put", {"key": key, "value": self.value})
            return True
        except (OSError, ValueError, http.client.HTTPException):
            self.conn.close()
            return False

    def close(self) -> None:
        self.conn.close()


class Etcd:
    name = "etcd"
    durability = "durable: WAL fsync before the ack (etcd's default)"

    def __init__(self, nodes: int) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="tmbench-etcd-"))
        self.nodes = [f"e{i}" for i in range(1, nodes + 1)]
        peer = {n: free_port() for n in self.nodes}
        self.client_port = {n: free_port() for n in self.nodes}
        cluster = ",".join(f"{n}=http://127.0.0.1:{peer[n]}" for n in self.nodes)
        self.procs: list[subprocess.Popen[bytes]] = []
        for n in self.nodes:
            log = (self.root / f"{n}.log").open("ab")
            me, client = f"http://127.0.0.1:{peer[n]}", f"http://127.0.0.1:{self.client_port[n]}"
            flags = {
                "name": n,
                "data-dir": str(self.root / n),
                "listen-peer-urls": me,
                "initial-advertise-peer-urls": me,
                "listen-client-urls": client,
                "advertise-client-urls": client,
                "initial-cluster": cluster,
                "initial-cluster-state": "new",
                "initial-cluster-token": self.root.name,
                "log-level": "error",
            }
            args = ["etcd", *[x for k, v in flags.items() for x in (f"--{k}", v)]]
            self.procs.append(
                subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            )
            log.close()
        self.leader()

    def leader(self) -> str:
        found: list[str] = []

        def probe() -> bool:
            for n in self.nodes:
                conn = http.client.HTTPConnection("127.0.0.1", self.client_port[n], timeout=2)
                try:
                    st = _etcd_call(conn, "/v3/maintenance/status", {})
                finally:
                    conn.close()
                if st.get("leader") and st["leader"] == st["header"]["member_id"]:
                    found.append(n)
                    return True
            return False

        wait_for(self.name, probe)
        return found[0]

    def client(self, via: str) -> PeerClient:
        return _EtcdClient(self.client_port[via])

    def server_pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def close(self) -> None:
        kill_all(self.procs)
        shutil.rmtree(self.root, ignore_errors=True)


# -- single SQLite -----------------------------------------------------------------
class _SqliteClient:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA synchronous=FULL")

    def submit(self) -> bool:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT INTO log (payload) VALUES (?)", (PAYLOAD,))
            self.db.execute("COMMIT")
            return True
        except sqlite3.OperationalError:
            with contextlib.suppress(sqlite3.OperationalError):
                self.db.execute("ROLLBACK")
            return False

    def close(self) -> None:
        self.db.close()


class SqliteFloor:
    name = "sqlite-fsync"
    durability = "durable on one box: WAL synchronous=FULL, one fsync per command, no replica"

    def __init__(self, nodes: int) -> None:
        del nodes  # one process, no replication
        self.root = Path(tempfile.mkdtemp(prefix="tmbench-sqlite-"))
        self.path = self.root / "floor.db"
        db = sqlite3.connect(self.path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, payload BLOB)")
        db.commit()
        db.close()
        self.nodes = ["local"]

    def leader(self) -> str:
        return "local"

    def client(self, via: str) -> PeerClient:
        return _SqliteClient(self.path)

    def server_pids(self) -> list[int]:
        return []  # the clients do the work, in this process

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# -- the harness -------------------------------------------------------------------
def measure(
    system: System, clients: int, seconds: float, *, per_client_hz: float | None = None
) -> dict[str, Any]:
    """``clients`` threads submitting for ``seconds``; every ack is timed.

    Flat out by default. With ``per_client_hz`` each client sends on its own steady
    beat instead (the dinner rush: a command a second from each terminal), the
    clients' beats spread evenly over the period, so the figure is each command's
    latency at that load rather than the queueing of a saturated system.
    """
    vias = [system.leader()] if clients == 1 else [
        system.nodes[i % len(system.nodes)] for i in range(clients)
    ]  # fmt: skip
    made = [system.client(v) for v in vias]
    for c in made:
        for _ in range(5 if clients == 1 else 1):
            c.submit()  # warm up: connections, caches, the leader's first batch
    lat: list[list[float]] = [[] for _ in made]
    errors = [0] * len(made)
    go = threading.Barrier(len(made) + 1)
    stop = [0.0]

    def run(i: int) -> None:
        c = made[i]
        go.wait()
        period = 1.0 / per_client_hz if per_client_hz else 0.0
        beat = time.perf_counter() + period * i / len(made)
        while time.perf_counter() < stop[0]:
            if period:
                time.sleep(max(0.0, beat - time.perf_counter()))
                beat += period
            t = time.perf_counter()
            ok = c.submit()
            if ok:
                lat[i].append(time.perf_counter() - t)
            else:
                errors[i] += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(made))]
    for t in threads:
        t.start()
    cpu_before = cpu_seconds(system.server_pids())
    start = time.perf_counter()
    stop[0] = start + seconds
    go.wait()
    for t in threads:
        t.join(seconds + 30)
    elapsed = time.perf_counter() - start
    cpu = cpu_seconds(system.server_pids()) - cpu_before
    for c in made:
        c.close()
    every = sorted(x for xs in lat for x in xs)
    step = max(1, len(every) // SAMPLES_KEPT)
    return {
        "clients": clients,
        "per_client_hz": per_client_hz,
        "commits_per_s": round(len(every) / elapsed, 1),
        "p50_ms": round(pct(every, 50) * 1e3, 3),
        "p99_ms": round(pct(every, 99) * 1e3, 3),
        "commits": len(every),
        "errors": sum(errors),
        # CPU of all server processes per acknowledged commit: less noisy than time on a
        # shared machine, and what decides throughput once the cores are the limit.
        "server_cpu_ms_per_commit": round(cpu * 1e3 / len(every), 3) if every else None,
        "samples_ms": [round(x * 1e3, 3) for x in every[::step]],
    }


def make_systems(nodes: int, etcd: bool, pso_batch: bool) -> list[tuple[str, Callable[[], System]]]:
    out: list[tuple[str, Callable[[], System]]] = [
        ("tablemesh", lambda: Tablemesh(nodes)),
    ]
    if etcd:
        out.append(("etcd", lambda: Etcd(nodes)))
    out += [
        ("pysyncobj-journal", lambda: PySyncObj(nodes, journal=True, batch=pso_batch)),
        ("pysyncobj-memory", lambda: PySyncObj(nodes, journal=False, batch=pso_batch)),
        ("sqlite-fsync", lambda: SqliteFloor(nodes)),
    ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="3 nodes, 3 s a point (default)")
    mode.add_argument("--full", action="store_true", help="3 and 5 nodes, 15 s a point")
    mode.add_argument(
        "--dinner",
        action="store_true",
        help="the dinner rush instead: 20 clients, 1 command/s each, 60 s (default 5 nodes)",
    )
    parser.add_argument("--only", action="append", help="run only this system (repeatable)")
    parser.add_argument(
        "--nodes", type=int, action="append", help="cluster size (repeatable; default 3, full 3 5)"
    )
    parser.add_argument("--pysyncobj-node", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--journal", help=argparse.SUPPRESS)
    parser.add_argument("--batch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--pysyncobj-batching",
        action="store_true",
        help="run PySyncObj with its default appendEntriesUseBatch=True (slower here)",
    )
    args = parser.parse_args()
    if args.pysyncobj_node:
        self_addr, sock, *partners = args.pysyncobj_node
        pysyncobj_node(self_addr, partners, sock, args.journal, args.batch)
        return 0

    seconds = 60.0 if args.dinner else 15.0 if args.full else 3.0
    default_sizes = (5,) if args.dinner else (3, 5) if args.full else (3,)
    sizes = tuple(args.nodes) if args.nodes else default_sizes
    client_counts = (20,) if args.dinner else (1, 16, 64)
    per_client_hz = 1.0 if args.dinner else None
    have_etcd = shutil.which("etcd") is not None
    if not have_etcd:
        print("etcd: not on PATH, skipped (apt-get install etcd-server)")
    floor_fsync = fsync_floor(Path(tempfile.gettempdir()), 300 if args.full else 100)
    floor_rtt = loopback_rtt(2000 if args.full else 300)
    floor_ms = (pct(floor_fsync, 50) + pct(floor_rtt, 50)) * 1e3
    results: dict[str, Any] = {
        "machine": {"cores": os.cpu_count()},
        "setup": {
            "payload_bytes": len(PAYLOAD),
            "seconds_per_point": seconds,
            "transport": "loopback (127.0.0.1)",
            "clients": "threads of one process, one kept-open connection each",
            "pysyncobj_append_entries_use_batch": args.pysyncobj_batching,
            "per_client_hz": per_client_hz,
        },
        "floor": {
            "fsync_p50_ms": round(pct(floor_fsync, 50) * 1e3, 3),
            "fsync_p99_ms": round(pct(floor_fsync, 99) * 1e3, 3),
            "loopback_rtt_p50_ms": round(pct(floor_rtt, 50) * 1e3, 3),
            "fsync_plus_rtt_ms": round(floor_ms, 3),
        },
        "runs": [],
    }
    print(
        f"{os.cpu_count()} cores; floor: fsync p50 {pct(floor_fsync, 50) * 1e3:.3f} ms, "
        f"loopback RTT p50 {pct(floor_rtt, 50) * 1e3:.3f} ms, sum {floor_ms:.3f} ms"
    )
    print(f"{'system':<18} {'nodes':>5} {'clients':>7} {'commits/s':>10} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'p50/floor':>9} {'errors':>6} {'cpu ms':>7} {'fsync':>6}  "
          "durability")  # fmt: skip
    for nodes in sizes:
        for name, make in make_systems(nodes, have_etcd, args.pysyncobj_batching):
            if args.only and name not in args.only:
                continue
            if name == "sqlite-fsync" and nodes != sizes[0]:
                continue  # no replication: the node count changes nothing
            # The disk's flush latency drifts over minutes on a shared machine: probe it
            # again next to each system, so a comparison can see what each one faced.
            fsync_here = pct(fsync_floor(Path(tempfile.gettempdir()), 50), 50) * 1e3
            system = make()
            try:
                for clients in client_counts:
                    r = measure(system, clients, seconds, per_client_hz=per_client_hz)
                    r.update(system=name, nodes=len(system.nodes), durability=system.durability)
                    r["fsync_p50_ms_before"] = round(fsync_here, 3)
                    r["p50_x_floor"] = round(r["p50_ms"] / floor_ms, 1)
                    r["p99_x_floor"] = round(r["p99_ms"] / floor_ms, 1)
                    results["runs"].append(r)
                    print(f"{name:<18} {len(system.nodes):>5} {clients:>7} "
                          f"{r['commits_per_s']:>10,.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                          f"{r['p50_x_floor']:>8.1f}x {r['errors']:>6} "
                          f"{r['server_cpu_ms_per_commit'] or 0:>7.2f} {fsync_here:>6.2f}  "
                          f"{system.durability}",
                          flush=True)  # fmt: skip
            finally:
                system.close()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = "peers-dinner.json" if args.dinner else "peers.json"
    (RESULTS / out).write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
