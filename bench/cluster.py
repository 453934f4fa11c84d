"""Cluster benchmark: commit latency and throughput of real node processes on loopback, fsync on.

Prints, in one run on this machine:
- the physical floor: fsync latency of a small write, and a loopback round trip;
- 1 client committing sequentially (3 nodes), through the leader and through a follower;
  and the same with the client inside its node's process, as the apps run
  (bench/embedded_client.py);
- 64 concurrent clients (3 and 5 nodes): commands/s and latency p50/p99;
- the CPU an idle 5-node site spends a second (ticks, heartbeats, gossip);
- dinner rush on 5 nodes: 20 terminals at 1 command/s each, and 10x (200 terminals),
  each serving tables with an evening's command mix (open, order with modifiers,
  fire, dessert, fire, pay, close): commands/s and latency p50/p99;
- failover on 5 nodes: kill -9 of the leader to the next acknowledged write (median, p99);
- cold start of a fresh site (every node ready, a leader elected), 3 and 5 nodes;
- each node's RSS before and after 5,000 (full: 100,000) more commands on 5 nodes.

Each client is a thread with a kept-open control-socket connection to one node;
each command is an ``add_items`` of ~100 bytes on the client's own check, or every
20 lines (a table's worth) the ``open_check`` of a new one: one command, one sample.

Run: ``python bench/cluster.py`` (``--quick`` for a short smoke run). Writes
``bench/results/cluster.json``. ``--only PART`` (repeatable) runs some parts only
and writes ``cluster-parts.json``, e.g. ``--only dinner --rush-seconds 60`` for the
5-node dinner rush alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mesh.net.control import ControlConnection, ControlError, request  # noqa: E402
from mesh.node import config as cfg  # noqa: E402
from mesh.node.site_setup import default_devices, init_site  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(pct(values, 50) * 1000, 3),
        "p99_ms": round(pct(values, 99) * 1000, 3),
        "n": len(values),
    }


# -- the floor -------------------------------------------------------------------
def fsync_floor(directory: Path, rounds: int) -> list[float]:
    path = directory / "fsync.probe"
    out = []
    with path.open("wb") as f:
        for _ in range(rounds):
            f.write(os.urandom(256))
            f.flush()
            t = time.perf_counter()
            os.fsync(f.fileno())
            out.append(time.perf_counter() - t)
    path.unlink()
    return out


def loopback_rtt(rounds: int) -> list[float]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(256):
                conn.sendall(data)

    t = threading.Thread(target=echo, daemon=True)
    t.start()
    out = []
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(rounds):
            start = time.perf_counter()
            c.sendall(b"x" * 100)
            c.recv(256)
            out.append(time.perf_counter() - start)
    t.join(5)
    server.close()
    return out


# -- a site ------------------------------------------------------------------------
class Site:
    def __init__(self, nodes: int, *, embedded: str | None = None) -> None:
        """``embedded``: the name of a node run by bench/embedded_client.py (its client in
        its own process), started after the others have elected a leader: a follower."""
        self.root = Path(tempfile.mkdtemp(prefix="tmbench-"))
        init_site(self.root, default_devices(nodes), site="bench")
        self.names = [f"n{i}" for i in range(1, nodes + 1)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.worker: Worker | None = None
        started = time.perf_counter()
        for name in self.names:
            if name != embedded:
                self.start(name)
        for name in self.names:
            if name != embedded:
                self.wait_ready(name)
        self.ready_s = time.perf_counter() - started  # cold start: every control socket up
        self.leader()
        self.leader_s = time.perf_counter() - started  # ... and a leader in a quorum
        if embedded is not None:
            self.worker = Worker(self.root / embedded)
            self.procs[embedded] = self.worker.proc
            self.wait_ready(embedded)

    def start(self, name: str) -> None:
        log = (self.root / name / "node.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "mesh", "node", "--data", str(self.root / name),
             "--log-level", "WARNING"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        )  # fmt: skip
        log.close()

    def sock(self, name: str) -> Path:
        return cfg.control_socket_path(self.root / name)

    def status(self, name: str) -> dict[str, Any]:
        # No state hash: it encodes the whole ledger, seconds on a big day, and the
        # benchmark only wants roles and leaders.
        return request(self.sock(name), {"op": "status", "hash": False}, 2.0)

    def wait_ready(self, name: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.status(name).get("ok"):
                    return
            except ControlError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{name} not ready")

    def leader(self, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    continue
                try:
                    st = self.status(name)
                except ControlError:
                    continue
                if st.get("role") == "leader" and st.get("in_quorum"):
                    return name
            time.sleep(0.01)
        raise RuntimeError("no leader")

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs.values():
            proc.wait(10)
        if self.worker is not None:
            self.worker.close()
        shutil.rmtree(self.root, ignore_errors=True)


class Worker:
    """A node with its client in one process (bench/embedded_client.py), driven by lines."""

    def __init__(self, data: Path) -> None:
        log = (data / "node.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "embedded_client.py"), str(data)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=ROOT,
        )  # fmt: skip
        log.close()
        self.answer(60)  # {"ready": true}: the node is serving

    def answer(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            raise RuntimeError("the embedded client's process gave no answer")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        """Close the pipes (the process is killed with the site's others)."""
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()

    def order(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        return self.answer(timeout)


class Client:
    """One terminal: adds items to its own check, and starts a new check every so often.

    A real check holds a table's worth of lines; one check growing for the whole run
    would make every add cost more than the last (the check's totals are recomputed).
    """

    LINES_PER_CHECK = 20

    def __init__(self, site: Site | None, via: str = "", *, conn: Any = None) -> None:
        # ``conn``: anything with ``request(dict) -> dict`` and ``close()`` in place of
        # the control socket (bench/embedded_client.py passes the in-process client).
        if conn is None:
            assert site is not None
            conn = ControlConnection(site.sock(via), timeout=15)
        self.conn = conn
        self.check = ""
        self.lines = 0
        self.open_check()

    def open_check(self) -> None:
        reply = self.conn.request(
            {"op": "submit", "command": {"type": "open_check", "by": "s-ana", "table": "7",
                                         "guests": 2, "server": "s-ana"}}
        )  # fmt: skip
        assert reply["ok"], reply
        self.check = reply["outcome"]["check"]
        self.lines = 0

    def step(self) -> tuple[float, bool]:
        """Time one command: a new table's ``open_check`` once the check is full, else an add.

        Each call sends exactly one command, so a client on a beat of one a second sends
        one command a second and every sample is one command's latency.
        """
        if self.lines < self.LINES_PER_CHECK:
            return self.add()
        start = time.perf_counter()
        try:
            self.open_check()
        except (ControlError, AssertionError):
            return time.perf_counter() - start, False
        return time.perf_counter() - start, True

    def add(self) -> tuple[float, bool]:
        """Time one ``add_items`` (the untimed ``open_check`` of a new table aside)."""
        if self.lines >= self.LINES_PER_CHECK:
            try:
                self.open_check()
            except (ControlError, AssertionError):
                return 0.0, False
        cid = uuid.uuid4().hex[:16]
        command = {
            "type": "add_items", "id": cid, "by": "s-ana", "check": self.check,
            "items": [{"item": "soda", "qty": 1, "note": "no ice"}],
        }  # fmt: skip
        start = time.perf_counter()
        try:
            reply = self.conn.request({"op": "submit", "command": command})
        except ControlError:  # no answer in time: an error of the run, not the end of it
            return time.perf_counter() - start, False
        elapsed = time.perf_counter() - start
        ok = bool(reply.get("ok"))
        self.lines += ok
        return elapsed, ok


class TableClient:
    """One terminal serving tables: the command mix of an evening, every command timed.

    A table's life: open the check, order (starters, mains with their modifiers,
    drinks), fire, order dessert, fire again, pay cash and close; then the next table.
    """

    ORDERS = (
        [{"item": "wings", "qty": 1, "modifiers": ["mod-noonion"]}, {"item": "ipa", "qty": 2}],
        [{"item": "ribeye", "qty": 1, "modifiers": ["mod-mrare"]}, {"item": "fries", "qty": 1}],
        [{"item": "salmon", "qty": 1}, {"item": "greens", "qty": 1}, {"item": "wine", "qty": 1}],
        [{"item": "burger", "qty": 2, "note": "no pickles"}, {"item": "soda", "qty": 2}],
    )
    DESSERT = [{"item": "cake", "qty": 1}, {"item": "sundae", "qty": 1}]

    def __init__(self, site: Site, via: str, seed: int) -> None:
        self.conn = ControlConnection(site.sock(via), timeout=15)
        self.rng = random.Random(seed)
        self.plan: list[dict[str, Any]] = []
        self.check = ""

    def _next(self) -> dict[str, Any]:
        if not self.plan:
            table = str(self.rng.randint(1, 40))
            self.plan = [{"type": "open_check", "by": "s-ana", "table": table, "guests": 2,
                          "server": "s-ana"}]  # fmt: skip
            for items in self.rng.sample(self.ORDERS, 2):
                self.plan.append({"type": "add_items", "by": "s-ana", "items": items})
            self.plan += [
                {"type": "fire", "by": "s-ana"},
                {"type": "add_items", "by": "s-ana", "items": self.DESSERT},
                {"type": "fire", "by": "s-ana"},
                {"type": "pay", "by": "s-ana", "tender": "cash", "tip": 200},
                {"type": "close_check", "by": "s-ana"},
            ]
        command = {**self.plan.pop(0), "id": uuid.uuid4().hex[:16]}
        if command["type"] != "open_check":
            command["check"] = self.check
        return command

    def step(self) -> tuple[float, bool]:
        command = self._next()
        start = time.perf_counter()
        try:
            reply = self.conn.request({"op": "submit", "command": command})
        except ControlError:  # no answer in time: an error of the run, not the end of it
            reply = {"ok": False}
        elapsed = time.perf_counter() - start
        ok = bool(reply.get("ok"))
        if ok and command["type"] == "open_check":
            self.check = reply["outcome"]["check"]
        elif not ok:
            self.plan = []  # start a new table: this one's state is unknown
        return elapsed, ok


def sequential(site: Site, via: str, count: int) -> list[float]:
    c = Client(site, via)
    for _ in range(20):
        c.add()  # warm up
    lat = []
    for _ in range(count):
        dt, ok = c.step()
        if ok:
            lat.append(dt)
    c.conn.close()
    return lat


def embedded(count: int) -> dict[str, list[float]]:
    """1 client back to back on 3 nodes, its node in its own process: as a follower, then
    as the leader. Latencies by role."""
    site = Site(3, embedded="n3")
    try:
        worker = site.worker
        assert worker is not None
        out: dict[str, list[float]] = {}
        for _ in range(6):  # bounded: each turn measures a role or moves the leader
            if len(out) == 2:
                break
            role = "leader" if site.leader() == "n3" else "follower"
            if role not in out:
                answer = worker.order({"run": count}, 120 + count * 0.1)
                if answer["role"] == role:
                    out[role] = answer["latencies_s"]
                continue
            # A graceful stop hands leadership to the most up-to-date voter, and the
            # highest name among equals: n3, the embedded node.
            leader = site.leader()
            site.procs[leader].send_signal(signal.SIGTERM)
            site.procs[leader].wait(15)
            site.start(leader)
            site.wait_ready(leader)
        return out
    finally:
        site.close()


def concurrent(
    site: Site, clients: int, seconds: float, rate: float | None, *, mix: bool = False
) -> dict[str, Any]:
    """``clients`` threads spread over the nodes; ``rate`` commands/s each (None: flat out).

    ``mix``: each client serves tables (``TableClient``), else it adds items (``Client``).
    """
    vias = [site.names[i % len(site.names)] for i in range(clients)]
    made: list[Client | TableClient] = [
        TableClient(site, v, i) if mix else Client(site, v) for i, v in enumerate(vias)
    ]
    lat: list[list[float]] = [[] for _ in made]
    stop = time.perf_counter() + seconds
    errors = [0]

    def run(i: int) -> None:
        c = made[i]
        rng = random.Random(i)
        next_at = time.perf_counter() + (rng.random() / rate if rate else 0)
        while time.perf_counter() < stop:
            if rate:
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += 1 / rate
            dt, ok = c.step()
            if ok:
                lat[i].append(dt)
            else:
                errors[0] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.perf_counter() - start
    for c in made:
        c.conn.close()
    every = sorted(x for xs in lat for x in xs)
    step = max(1, len(every) // 3000)  # a bounded sample, for the CDF plots
    return {"clients": clients, "commands_per_s": round(len(every) / elapsed, 1),
            "errors": errors[0], **ms(every),
            "samples_ms": [round(x * 1000, 3) for x in every[::step]]}  # fmt: skip


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (Linux /proc), 0 for a gone one."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def idle_cpu(site: Site, seconds: float) -> dict[str, Any]:
    """CPU an idle site's nodes spend a second: ticks, heartbeats, status gossip.

    Every command of a dinner rush competes with it for the same cores, so it is
    measured on its own, with no client connected, after the site has settled.
    """
    time.sleep(3.0)  # the election and the first gossip rounds are over
    pids = [p.pid for p in site.procs.values()]
    before, started = cpu_seconds(pids), time.perf_counter()
    time.sleep(seconds)
    spent = cpu_seconds(pids) - before
    per_s = spent * 1e3 / (time.perf_counter() - started)
    return {"seconds": seconds, "cpu_ms_per_s": round(per_s, 1),
            "cpu_ms_per_s_per_node": round(per_s / len(pids), 1)}  # fmt: skip


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_after(site: Site, commands: int, clients: int = 16) -> dict[str, Any]:
    """Each node's resident memory before and after ``commands`` more acknowledged adds."""
    before = {n: round(rss_mb(p.pid), 1) for n, p in site.procs.items()}
    made = [Client(site, site.names[i % len(site.names)]) for i in range(clients)]
    left = [commands]
    errors = [0]
    lock = threading.Lock()

    def run(c: Client) -> None:
        for _ in range(10 * commands):  # bounded: an error does not use up a command
            with lock:
                if left[0] <= 0:
                    return
            _, ok = c.add()
            with lock:
                if ok:
                    left[0] -= 1
                else:
                    errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in made:
        c.conn.close()
    after = {n: round(rss_mb(p.pid), 1) for n, p in site.procs.items()}
    return {"commands": commands - max(0, left[0]), "errors": errors[0],
            "seconds": round(time.perf_counter() - started, 1),
            "rss_mb_before": before, "rss_mb_after": after}  # fmt: skip


def agreed_leader(site: Site, timeout: float = 20) -> str:
    """The leader every live node names: a kill then surely hits the node serving writes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leader = site.leader()
        try:
            views = {
                site.status(n).get("leader") for n, p in site.procs.items() if p.poll() is None
            }
        except ControlError:
            continue
        if views == {leader}:
            return leader
        time.sleep(0.05)
    raise RuntimeError("the nodes do not agree on a leader")


def failover(site: Site, trials: int) -> list[dict[str, Any]]:
    """kill -9 the leader; time to the next write acknowledged through a survivor."""
    out: list[dict[str, Any]] = []
    for _ in range(trials * 3):  # bounded: a trial is skipped only if leadership moves
        if len(out) >= trials:
            break
        leader = agreed_leader(site)
        survivor = next(n for n in site.names if n != leader)
        c = Client(site, survivor)  # its open_check went through the leader just now
        if agreed_leader(site) != leader:
            c.conn.close()
            continue  # leadership moved meanwhile: not a trial
        site.procs[leader].send_signal(signal.SIGKILL)
        site.procs[leader].wait(10)
        killed = time.perf_counter()
        while True:
            try:
                _, ok = c.add()
            except ControlError:
                ok = False
            if ok:
                took = time.perf_counter() - killed
                new = site.status(survivor).get("leader")
                out.append({"seconds": took, "killed": leader, "new_leader": new})
                break
            if time.perf_counter() - killed > 30:
                raise RuntimeError("no write acknowledged within 30 s of the leader's death")
        c.conn.close()
        site.start(leader)
        site.wait_ready(leader)
        time.sleep(0.5)
    return out


PARTS = ("1client", "embedded", "64clients", "idle", "dinner", "dinner10x", "memory", "failover")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", action="append", choices=PARTS, help="run only these parts (repeatable)"
    )
    parser.add_argument(
        "--rush-seconds", type=float, help="length of each dinner rush (default 10 s quick, 60 s)"
    )
    args = parser.parse_args()
    q = args.quick
    parts = set(args.only or PARTS)
    rush_s = args.rush_seconds or (10 if q else 60)
    node_counts = [n for n in (3, 5) if n == 5 or parts & {"1client", "64clients"}]
    if not parts - {"1client", "embedded"}:
        node_counts = [3] if "1client" in parts else []
    results: dict[str, Any] = {"machine": {"cores": os.cpu_count()}, "parts": sorted(parts)}
    results["load_average_start"] = [round(x, 2) for x in os.getloadavg()]

    floor_fsync = fsync_floor(Path(tempfile.gettempdir()), 50 if q else 300)
    floor_rtt = loopback_rtt(200 if q else 2000)
    results["floor"] = {"fsync": ms(floor_fsync), "loopback_rtt": ms(floor_rtt)}
    fsync50, fsync99 = pct(floor_fsync, 50) * 1e3, pct(floor_fsync, 99) * 1e3
    print(
        f"floor: fsync p50 {fsync50:.3f} ms p99 {fsync99:.3f} ms;"
        f" loopback RTT p50 {pct(floor_rtt, 50) * 1e3:.3f} ms"
    )

    if "embedded" in parts:
        by_role = embedded(100 if q else 1000)
        for label, lat in sorted(by_role.items(), reverse=True):
            results[f"3n_1client_embedded_{label}"] = ms(lat)
            print(f"3 nodes, 1 client in the {label}'s own process: p50 {pct(lat, 50)*1e3:.2f} "
                  f"ms, p99 {pct(lat, 99)*1e3:.2f} ms ({len(lat)} commits)")  # fmt: skip

    for nodes in node_counts:
        site = Site(nodes)
        try:
            results[f"{nodes}n_cold_start"] = {
                "ready_s": round(site.ready_s, 2),
                "leader_s": round(site.leader_s, 2),
            }
            print(f"{nodes} nodes, cold start (fresh site): every node ready in "
                  f"{site.ready_s:.2f} s, a leader in {site.leader_s:.2f} s")  # fmt: skip
            leader = site.leader()
            follower = next(n for n in site.names if n != leader)
            if nodes == 3 and "1client" in parts:
                for label, via in (("leader", leader), ("follower", follower)):
                    lat = sequential(site, via, 100 if q else 1000)
                    results[f"3n_1client_via_{label}"] = ms(lat)
                    print(f"3 nodes, 1 client via the {label}: p50 {pct(lat, 50)*1e3:.2f} ms, "
                          f"p99 {pct(lat, 99)*1e3:.2f} ms ({len(lat)} commits)")  # fmt: skip
            if "64clients" in parts:
                r = concurrent(site, 64, 5 if q else 20, None)
                results[f"{nodes}n_64clients"] = r
                print(
                    f"{nodes} nodes, 64 clients flat out: {r['commands_per_s']} commands/s, "
                    f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}"
                )
            if nodes == 5 and "idle" in parts:
                idle = idle_cpu(site, 10 if q else 30)
                results["5n_idle"] = idle
                print(f"5 nodes, idle: {idle['cpu_ms_per_s']} ms of CPU a second in all, "
                      f"{idle['cpu_ms_per_s_per_node']} per node")  # fmt: skip
            if nodes == 5:
                for key, clients, label in (
                    ("5n_dinner_rush", 20, "dinner rush (20 terminals x 1 command/s)"),
                    ("5n_dinner_rush_10x", 200, "10x dinner rush (200 terminals x 1 command/s)"),
                ):
                    if ("dinner10x" if clients == 200 else "dinner") not in parts:
                        continue
                    r = concurrent(site, clients, rush_s, 1.0, mix=True)
                    results[key] = r
                    print(
                        f"5 nodes, {label}, a table's command mix: {r['commands_per_s']} "
                        f"commands/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                        f"errors {r['errors']}"
                    )
                if "memory" in parts:
                    mem = memory_after(site, 5_000 if q else 100_000)
                    results["5n_memory"] = mem
                    each = ", ".join(
                        f"{n} {mem['rss_mb_before'][n]:.0f} -> {mem['rss_mb_after'][n]:.0f} MB"
                        for n in site.names
                    )
                    print(
                        f"5 nodes, RSS of each node before -> after {mem['commands']:,} more "
                        f"commands ({mem['seconds']} s): {each}"
                    )
                if "failover" not in parts:
                    continue
                try:
                    trials = failover(site, 3 if q else 20)
                except RuntimeError as exc:  # a finding to print, not the end of the run
                    results["5n_failover"] = {"error": str(exc)}
                    print(f"5 nodes, failover: not measured: {exc}")
                    continue
                fo = [t["seconds"] for t in trials]
                results["5n_failover"] = {
                    "median_ms": round(statistics.median(fo) * 1000, 1),
                    "p99_ms": round(pct(fo, 99) * 1000, 1),
                    "trials": len(fo),
                    "trials_ms": [round(x * 1000, 1) for x in fo],
                    "leaders": [[t["killed"], t["new_leader"]] for t in trials],
                }
                print(f"5 nodes, kill -9 leader -> next acknowledged write: median "
                      f"{statistics.median(fo)*1e3:.0f} ms, p99 {pct(fo, 99)*1e3:.0f} ms "
                      f"over {len(fo)} trials")  # fmt: skip
        finally:
            site.close()
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at start {results['load_average_start']}, at end "
          f"{results['load_average_end']}")  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    # A run of some parts only does not overwrite the whole run's figures (the plots').
    name = "cluster.json" if parts == set(PARTS) else "cluster-parts.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
