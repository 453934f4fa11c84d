"""Helpers for the sync tests: a real cloud process on loopback and a site linked to it.

``CloudProcess`` runs ``python -m cloud`` through the test's ``ProcessReaper`` (so it is
killed by pid even when the test fails), seeded with the site's token and the same
genesis catalog the nodes start with, and can be stopped and started again on the same
port and database: that is how a test cuts "the internet". ``linked_cluster`` makes a
``Cluster`` whose every node has the cloud's URL and token in its config.

Nothing here mocks the cloud or a node: every check goes through real processes.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from mesh.node import config as cfg
from tests.support.cluster import Cluster, wait_for
from tests.support.ports import free_port
from tests.support.procs import ProcessReaper

SITE = "test"
SITE_TOKEN = "sync-site-token-0123456789abcdef"
ADMIN_TOKEN = "sync-admin-token-0123456789abcdef"
START_S = 60.0  # s for a started cloud to answer /v1/health
STOP_S = 30.0  # s for a clean exit after SIGTERM
HTTP_TIMEOUT_S = 10.0
THREADS_PER_NODE = 4  # clients opening checks at once through each node
SUBMIT_ATTEMPTS = 5
RETRY_CODES = {"timeout", "no_quorum"}


class CloudProcess:
    """The reference back office as a real process on 127.0.0.1, restartable in place."""

    def __init__(
        self,
        root: Path,
        reaper: ProcessReaper,
        *,
        catalog: Path,
        db_url: str | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.root = root
        self.extra = extra or []  # more options for ``python -m cloud``
        self.reaper = reaper
        self.catalog = catalog
        self.db_url = db_url  # None: SQLite in root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "cloud.log"
        self.proc: subprocess.Popen[bytes] | None = None
        root.mkdir(parents=True, exist_ok=True)

    def argv(self) -> list[str]:
        where = ["--db", self.db_url] if self.db_url else ["--data", str(self.root)]
        return [
            sys.executable, "-m", "cloud", "--host", "127.0.0.1", "--port", str(self.port),
            *where, "--site", SITE, "--token", SITE_TOKEN, "--catalog", str(self.catalog),
            "--admin-token", ADMIN_TOKEN, "--log-level", "warning", *self.extra,
        ]  # fmt: skip

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "the cloud is already running"
        self.proc = self.reaper.spawn(self.argv(), log=self.log)
        deadline = time.monotonic() + START_S
        with httpx.Client(base_url=self.url, timeout=2.0) as client:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"the cloud exited with {self.proc.returncode}: {self.log_tail()}"
                    )
                try:
                    if client.get("/v1/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"the cloud never became healthy: {self.log_tail()}")
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (SIGTERM: a clean stop; SIGKILL: the plug pulled)."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(STOP_S)
        self.proc = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- the HTTP API, as the back office's users see it ---------------------------
    def _request(self, method: str, path: str, token: str, **kwargs: Any) -> Any:
        with httpx.Client(base_url=self.url, timeout=HTTP_TIMEOUT_S) as client:
            response = client.request(
                method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs
            )
        assert response.status_code < 400, (method, path, response.status_code, response.text)
        return response.json()

    def checks(self) -> list[dict[str, Any]]:
        """Every check the cloud holds for the site, by ascending number (paged)."""
        out: list[dict[str, Any]] = []
        after = 0
        for _ in range(10_000):  # bounded: 1000 a page
            page = self._request(
                "GET", "/v1/checks", SITE_TOKEN, params={"after": after, "limit": 1000}
            )["checks"]
            if not page:
                return out
            out.extend(page)
            after = page[-1]["number"]
        raise AssertionError("too many pages of checks")

    def check(self, ref: str | int) -> dict[str, Any]:
        found: dict[str, Any] = self._request("GET", f"/v1/checks/{ref}", SITE_TOKEN)
        return found

    def set_fault(self, mode: str, **fields: Any) -> dict[str, Any]:
        knob: dict[str, Any] = self._request(
            "PUT", "/v1/admin/fault", ADMIN_TOKEN, json={"mode": mode, **fields}
        )
        return knob

    def fault(self) -> dict[str, Any]:
        knob: dict[str, Any] = self._request("GET", "/v1/admin/fault", ADMIN_TOKEN)
        return knob


def linked_cluster(
    root: Path, reaper: ProcessReaper, *, nodes: int = 3, cloud_url: str | None = None
) -> Cluster:
    """A site of ``nodes`` real nodes whose config links them to the cloud at ``cloud_url``.

    The URL may be given before the cloud runs (a port is chosen first), as at a real site.
    """

    def link(raw: dict[str, Any]) -> None:
        raw["cloud"] = {"url": cloud_url, "token": SITE_TOKEN}

    return Cluster(root, reaper, nodes=nodes, tweak=link if cloud_url else None)


def genesis(cluster: Cluster) -> Path:
    """The catalog the site was made with (what the cloud is seeded with)."""
    return cluster.data(cluster.names[0]) / cfg.GENESIS_FILE


def site_with_cloud(
    tmp_path: Path,
    reaper: ProcessReaper,
    *,
    nodes: int = 3,
    db_url: str | None = None,
    extra: list[str] | None = None,
) -> tuple[CloudProcess, Cluster]:
    """A cloud (not started) and a linked cluster (not started) sharing a catalog."""
    port_holder = CloudProcess(
        tmp_path / "cloud", reaper, catalog=Path(), db_url=db_url, extra=extra
    )
    cluster = linked_cluster(tmp_path / "site", reaper, nodes=nodes, cloud_url=port_holder.url)
    port_holder.catalog = genesis(cluster)
    return port_holder, cluster


# -- driving the site ----------------------------------------------------------------
def open_check_command(table: str) -> dict[str, Any]:
    return {"type": "open_check", "by": "s-ana", "table": table, "guests": 2, "server": "s-ana"}


def open_checks(cluster: Cluster, count: int, via: Iterable[str]) -> list[str]:
    """Open ``count`` checks, spread round-robin over the nodes ``via`` (a few threads each)."""
    names = list(via)
    lanes = [(name, k) for k in range(THREADS_PER_NODE) for name in names]
    share = {lane: [i for i in range(count) if i % len(lanes) == k] for k, lane in enumerate(lanes)}
    found: dict[int, str] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def run(lane: tuple[str, int]) -> None:
        name = lane[0]
        client = cluster.client(name, timeout=20.0)
        for i in share[lane]:
            command = {**open_check_command(f"{name}-{i}"), "id": uuid.uuid4().hex}
            for _attempt in range(SUBMIT_ATTEMPTS):
                # On a busy machine a commit may take longer than the node waits; the
                # same command id makes the retry safe (applied at most once).
                reply = client.submit(command)
                if reply.get("ok") or reply.get("error", {}).get("code") not in RETRY_CODES:
                    break
            with lock:
                if reply.get("ok"):
                    found[i] = str(reply["outcome"]["check"])
                else:
                    errors.append(f"{name}: {reply}")

    threads = [threading.Thread(target=run, args=(lane,)) for lane in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    assert len(found) == count, f"opened {len(found)} of {count}"
    return [found[i] for i in range(count)]


def numbers_on(cluster: Cluster, name: str) -> dict[str, int | None]:
    """Temporary ID -> number (None while unnumbered) of every check the node knows."""
    reply = cluster.client(name, timeout=20.0).checks(all=True)
    assert reply["ok"], reply
    return {c["id"]: c["number"] for c in reply["checks"]}


def all_numbered(cluster: Cluster, names: Iterable[str], ids: Iterable[str]) -> bool:
    wanted = list(ids)
    for name in names:
        known = numbers_on(cluster, name)
        if any(known.get(i) is None for i in wanted):
            return False
    return True


def wait_numbered(
    cluster: Cluster, names: Iterable[str], ids: Iterable[str], timeout: float
) -> float:
    """Wait until every node in ``names`` shows a number for every check; seconds taken."""
    start = time.monotonic()
    names, ids = list(names), list(ids)
    wait_for(
        "every check numbered on every node", lambda: all_numbered(cluster, names, ids), timeout
    )
    return time.monotonic() - start


def cloud_view(cluster: Cluster, name: str) -> dict[str, Any]:
    """The ``cloud`` part of a node's status (what its dot is computed from) and the dot."""
    st = cluster.status(name)
    return {**st["cloud"], "dot": st["dot"]}


def wait_view(
    cluster: Cluster,
    name: str,
    what: str,
    good: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Wait until ``good(cloud_view(...))`` holds on node ``name``; that view."""

    def check() -> dict[str, Any] | None:
        view = cloud_view(cluster, name)
        return view if good(view) else None

    found: dict[str, Any] = wait_for(f"{name}: {what}", check, timeout)
    return found


def wait_dot(cluster: Cluster, names: Iterable[str], dot: str, timeout: float = 30.0) -> None:
    for name in names:
        wait_view(cluster, name, f"the dot {dot}", lambda v: v["dot"] == dot, timeout)


def assert_exactly_once(
    cloud: CloudProcess, cluster: Cluster, names: Iterable[str], ids: list[str]
) -> dict[str, int]:
    """The cloud holds each check once, numbered 1..N without gaps; every node agrees.

    Returns temporary ID -> number.
    """
    held = cloud.checks()
    temp_ids = [c["temp_id"] for c in held]
    numbers = [c["number"] for c in held]
    assert len(temp_ids) == len(set(temp_ids)), "a check is held twice by the cloud"
    assert sorted(temp_ids) == sorted(ids), "the cloud does not hold exactly the site's checks"
    assert numbers == list(range(1, len(ids) + 1)), "numbers have gaps or duplicates"
    mapping = {c["temp_id"]: int(c["number"]) for c in held}
    for name in names:
        shown = numbers_on(cluster, name)
        assert {i: shown[i] for i in ids} == mapping, f"{name} shows other numbers than the cloud"
    return mapping


def both_ids_find(cluster: Cluster, name: str, mapping: dict[str, int]) -> None:
    client = cluster.client(name, timeout=20.0)
    for temp_id, number in mapping.items():
        by_number = client.checks(check=str(number))
        by_temp = client.checks(check=temp_id)
        assert by_number["ok"] and by_temp["ok"], (by_number, by_temp)
        assert by_number["check"]["id"] == by_temp["check"]["id"] == temp_id
        assert by_number["check"]["number"] == by_temp["check"]["number"] == number
