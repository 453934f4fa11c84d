"""Helpers for the back office's tests: sample bodies, the app with two sites, a blocking
in-process client, and a throw-away PostgreSQL server.

The two sites ("north" and "south") exist so that tests can also check that one site
never sees the other's data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from cloud.app import create_app
from cloud.db import create_schema, make_engine, make_session_factory, transaction
from cloud.sites import create_site
from tests.support.ports import free_port

NORTH_TOKEN = "north-token-0123456789abcdef"
SOUTH_TOKEN = "south-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-0123456789abcdef"
DAY = "2026-03-14"
REPO_ROOT = Path(__file__).resolve().parents[2]

PG_START_TIMEOUT = 60.0  # seconds for initdb, and again for the first accepted connection
PG_STOP_TIMEOUT = 15.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def a_check(temp_id: str, **fields: Any) -> dict[str, Any]:
    """A posted check as a site would send it; ``fields`` override the defaults."""
    check: dict[str, Any] = {
        "temp_id": temp_id,
        "business_day": DAY,
        "opened_at": "2026-03-14T18:02:03+00:00",
        "closed_at": None,
        "status": "open",
        "table": "12",
        "server": "ana",
        "lines": [{"item": "burger", "qty": 1, "price": 1250}],
        "payments": [],
        "tips": 0,
        "total": 1250,
    }
    check.update(fields)
    return check


def an_event(event_id: str, kind: str = "audit", **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "kind": kind,
        "at": "2026-03-14T19:00:00+01:00",
        "business_day": DAY,
        "data": {"by": "manager"},
    }
    event.update(fields)
    return event


def a_catalog(price: int = 1250) -> dict[str, Any]:
    return {
        "site": {"name": "North", "utc_offset_minutes": 60, "day_start_hour": 4},
        "items": {"burger": {"price": price, "station": "grill", "category": "mains"}},
        "staff": {"ana": {"role": "server", "pin_hash": "argon2id$..."}},
        "tenders": {"cash": {"kind": "cash"}},
    }


@dataclass
class CloudApp:
    app: FastAPI
    engine: Engine


def build_app(url: str) -> CloudApp:
    """The app on a fresh database at ``url``, with sites north and south and an admin."""
    return build_app_on_existing(url, create_sites=True)


def build_app_on_existing(url: str, *, create_sites: bool) -> CloudApp:
    """The app on the database at ``url`` (as a restarted service would find it)."""
    engine = make_engine(url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    if create_sites:
        with transaction(sessions) as session:
            create_site(session, "north", NORTH_TOKEN)
            create_site(session, "south", SOUTH_TOKEN)
    return CloudApp(app=create_app(sessions, admin_token=ADMIN_TOKEN), engine=engine)


class AppClient:
    """A blocking HTTP client for an ASGI app, without a server or a socket.

    httpx's ASGI transport is async only; an anyio portal (one helper thread, ended on
    close) runs it for synchronous tests. Starlette's TestClient does the same but warns
    about its httpx backend.
    """

    def __init__(self, app: FastAPI) -> None:
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cloud.test"
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            return await self._client.request(method, url, **kwargs)

        return self._portal.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def close(self) -> None:
        try:
            self._portal.call(self._client.aclose)
        finally:
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# --- PostgreSQL -------------------------------------------------------------------------


class PostgresUnavailable(Exception):
    """This machine cannot run a throw-away PostgreSQL server; the message says why."""


def _pg_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # Debian keeps the server binaries off PATH, under a versioned directory.
    candidates = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@dataclass
class PostgresServer:
    host: str
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host=self.host, port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server on 127.0.0.1 in a temp dir; stopped and removed on exit."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PostgresUnavailable("the psycopg driver is not installed") from exc
    initdb, postgres = _pg_binary("initdb"), _pg_binary("postgres")
    if initdb is None or postgres is None:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, postgres) not installed")
    run_as: dict[str, Any] = {}
    # The server refuses to run as root: initdb and postgres run as nobody then.
    if os.geteuid() == 0:
        run_as = {"user": "nobody", "group": "nogroup", "extra_groups": []}
    root = Path(tempfile.mkdtemp(prefix="tablemesh-pg-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        data, sockets, log = root / "data", root / "sockets", root / "server.log"
        sockets.mkdir()
        if run_as:
            for path in (root, sockets):
                shutil.chown(path, "nobody", "nogroup")
        init = subprocess.run(
            [initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C", "--no-sync"],
            capture_output=True, timeout=PG_START_TIMEOUT, check=False, **run_as,
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.decode(errors='replace')}")
        port = free_port()
        with log.open("wb") as log_file:
            proc = subprocess.Popen(
                [postgres, "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                 "-k", str(sockets), "-c", "fsync=off", "-c", "max_connections=100"],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True, **run_as,
            )  # fmt: skip
        server = PostgresServer(host="127.0.0.1", port=port)
        _wait_for_postgres(server, proc, log)
        yield server
    finally:
        if proc is not None:
            _stop_postgres(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_postgres(server: PostgresServer, proc: subprocess.Popen[bytes], log: Path) -> None:
    import psycopg

    deadline = time.monotonic() + PG_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited at start: {log.read_text(errors='replace')}")
        try:
            with psycopg.connect(
                host=server.host, port=server.port, user="postgres", dbname="postgres",
                connect_timeout=2,
            ):  # fmt: skip
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres refused connections: {log.read_text()}") from exc
            time.sleep(0.1)


def _stop_postgres(proc: subprocess.Popen[bytes]) -> None:
    # SIGQUIT is PostgreSQL's "immediate" shutdown: no final checkpoint, which a
    # throw-away server does not need.
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGQUIT)
    try:
        proc.wait(timeout=PG_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=PG_STOP_TIMEOUT)


# --- the real service process ------------------------------------------------------------

START_TIMEOUT = 60.0  # seconds for a started service to answer /v1/health
STOP_TIMEOUT = 30.0  # seconds for a clean exit after SIGTERM


def cloud_command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "cloud", *map(str, args)]


def wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll /v1/health until it answers; fail early if the process exits."""
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"service exited with {proc.returncode}: {log.read_text(errors='replace')}"
                )
            try:
                if client.get("/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"service never became healthy: {log.read_text()}")
            time.sleep(0.05)


def stop_cleanly(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM the service by pid and wait for it; returns its exit status."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=STOP_TIMEOUT)


def log_lines(log: Path) -> list[dict[str, Any]]:
    """The service's structured log, one JSON object per line (fails on any other line)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
