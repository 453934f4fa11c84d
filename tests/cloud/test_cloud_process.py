"""The real service: ``python -m cloud`` on a loopback port, restarted, stopped by SIGTERM."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloud.main import run
from tests.cloud.cloudkit import (
    ADMIN_TOKEN,
    NORTH_TOKEN,
    REPO_ROOT,
    SOUTH_TOKEN,
    PostgresServer,
    a_catalog,
    a_check,
    bearer,
    cloud_command,
    log_lines,
    stop_cleanly,
    wait_healthy,
)
from tests.support.procs import ProcessReaper

NORTH = bearer(NORTH_TOKEN)
ADMIN = bearer(ADMIN_TOKEN)
QUICK_RUN_TIMEOUT = 60  # seconds for a command that must not serve


class Service:
    """One started service process: its URL, process and log."""

    def __init__(self, reaper: ProcessReaper, port: int, log: Path, *args: str | Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc = reaper.spawn(
            cloud_command("--host", "127.0.0.1", "--port", str(port), *args),
            log=log,
            cwd=REPO_ROOT,
        )
        wait_healthy(self.url, self.proc, log)

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, headers=headers)


def run_quick(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cloud_command(*args),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=QUICK_RUN_TIMEOUT,
        check=False,
    )


def post(client: httpx.Client, *checks: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/v1/checks", json={"checks": list(checks)})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_numbers_survive_a_restart_and_sigterm_exits_cleanly(
    tmp_data_dir: Path, tmp_path: Path, free_port: Callable[[], int], reaper: ProcessReaper
) -> None:
    site = ("--data", tmp_data_dir, "--site", "north", "--token", NORTH_TOKEN)
    first = Service(reaper, free_port(), tmp_path / "first.log", *site)
    with first.client(**NORTH) as client:
        assert [r["number"] for r in post(client, a_check("A1"), a_check("B2"))] == [1, 2]
        # Concurrent posts over real HTTP connections: distinct numbers, no gap.
        with ThreadPoolExecutor(max_workers=8) as pool:
            numbers = list(
                pool.map(lambda i: post(client, a_check(f"P{i}"))[0]["number"], range(24))
            )
        assert sorted(numbers) == list(range(3, 27))
    assert stop_cleanly(first.proc) == 0
    events = [line["event"] for line in log_lines(first.log)]
    assert events[-1] == "stopped" and "starting" in events and "site created" in events

    second = Service(reaper, free_port(), tmp_path / "second.log", *site)
    with second.client(**NORTH) as client:
        again = post(client, a_check("B2", status="closed"), a_check("C3"))
        assert again == [
            {"temp_id": "B2", "number": 2, "created": False},
            {"temp_id": "C3", "number": 27, "created": True},
        ]
        assert client.get("/v1/checks/2").json()["status"] == "closed"
    assert stop_cleanly(second.proc) == 0
    assert "site verified" in [line["event"] for line in log_lines(second.log)]


def test_create_site_prints_a_token_that_opens_the_api(
    tmp_data_dir: Path, tmp_path: Path, free_port: Callable[[], int], reaper: ProcessReaper
) -> None:
    created = run_quick("--data", tmp_data_dir, "--create-site", "east")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert len(token) >= 32 and "\n" not in token
    twice = run_quick("--data", tmp_data_dir, "--create-site", "east")
    assert twice.returncode == 2 and "already exists" in twice.stderr

    service = Service(reaper, free_port(), tmp_path / "service.log", "--data", tmp_data_dir)
    with service.client(**bearer(token)) as client:
        assert post(client, a_check("E1"))[0]["number"] == 1
    with service.client(**bearer(token + "x")) as client:
        assert client.post("/v1/checks", json={"checks": [a_check("E2")]}).status_code == 401
    assert stop_cleanly(service.proc) == 0


def test_site_token_must_match_and_be_long(tmp_data_dir: Path) -> None:
    # Creating, then verifying, a site with --site/--token is in the restart test above.
    created = run_quick("--data", tmp_data_dir, "--create-site", "north")
    assert created.returncode == 0
    wrong = run_quick("--data", tmp_data_dir, "--site", "north", "--token", NORTH_TOKEN)
    assert wrong.returncode == 2 and "different token" in wrong.stderr
    short = run_quick("--data", tmp_data_dir, "--site", "west", "--token", "short")
    assert short.returncode == 2 and "at least 16" in short.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--site", "north"),
        ("--token", NORTH_TOKEN),
        ("--create-site", "a", "--site", "b", "--token", NORTH_TOKEN),
        ("--port", "99999"),
        ("--no-such-option",),
        # Refused by the site rules, which used to run only after the database was made.
        ("--site", "copper", "--token", "short"),
        ("--site", "copper", "--token", "has spaces in the middle"),
        ("--site", "", "--token", NORTH_TOKEN),
        ("--create-site", ""),
        ("--create-site", "x" * 129),
    ],
)
def test_bad_arguments_exit_2_with_a_message_and_create_nothing(
    tmp_path: Path, args: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    # Checked before anything is opened or logged, so run() can be called in process.
    data = tmp_path / "fresh"
    assert run(["--data", str(data), *args]) == 2
    assert capsys.readouterr().err.strip()
    assert not data.exists()  # neither the directory nor cloud.sqlite3 in it


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    assert "--create-site" in capsys.readouterr().out


@pytest.mark.parametrize(
    "db_url",
    [
        "bogus://",  # no such dialect
        "postgresql+nosuchdriver://tablemesh:secret@db.example/tablemesh",
        "not a url",
        "postgresql://tablemesh@db.example:port/tablemesh",  # a port that is no number
    ],
)
def test_an_unusable_db_url_is_a_configuration_error(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Docs: exit 2 for configuration errors; 1 stays for a database that is down.
    assert run(["--db", db_url]) == 2
    err = capsys.readouterr().err
    assert "--db" in err and "unusable database URL" in err
    assert db_url.replace("secret", "***") in err and "secret" not in err


def test_an_unusable_db_url_prints_one_line_and_no_traceback(tmp_data_dir: Path) -> None:
    bad = run_quick("--data", tmp_data_dir, "--db", "bogus://")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: --db 'bogus://': unusable database URL "
        "(Can't load plugin: sqlalchemy.dialects:bogus)"
    ]
    assert not any(tmp_data_dir.iterdir())  # --data is not touched when --db is given


BAD_CATALOGS = {
    "missing keys": json.dumps({"items": {}}),
    "not json": "{not json",
    # Python reads NaN; JSON has none, and the API refuses it (it would be stored as null).
    "nan": '{"site": NaN, "items": {}, "staff": {}, "tenders": {}}',
    "not utf-8": b"\xff\xfe{}",
}


@pytest.mark.parametrize("content", BAD_CATALOGS.values(), ids=BAD_CATALOGS.keys())
@pytest.mark.parametrize(
    "site_args", [("--create-site", "north"), ("--site", "north", "--token", NORTH_TOKEN)]
)
def test_a_bad_catalog_refuses_the_start_before_anything_is_written(
    tmp_data_dir: Path,
    tmp_path: Path,
    content: str | bytes,
    site_args: tuple[str, ...],
    capsys: pytest.CaptureFixture[str],
) -> None:
    catalog = tmp_path / "catalog.json"
    if isinstance(content, bytes):
        catalog.write_bytes(content)
    else:
        catalog.write_text(content)
    assert run(["--data", str(tmp_data_dir), *site_args, "--catalog", str(catalog)]) == 2
    assert "catalog" in capsys.readouterr().err
    # No database file, no site: the next start, with a good catalog, starts afresh.
    assert not any(tmp_data_dir.iterdir())


def test_a_bad_catalog_leaves_an_existing_database_as_it_was(
    tmp_data_dir: Path, tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(a_catalog()))
    assert (
        run_quick("--data", tmp_data_dir, "--create-site", "north", "--catalog", good).returncode
        == 0
    )
    before = {f.name: f.read_bytes() for f in tmp_data_dir.iterdir()}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"items": {}}))
    for site_args in (("--create-site", "west"), ("--site", "south", "--token", SOUTH_TOKEN)):
        refused = run_quick("--data", tmp_data_dir, *site_args, "--catalog", bad)
        assert refused.returncode == 2 and "missing top-level keys" in refused.stderr
        assert "site created" not in refused.stderr
    assert {f.name: f.read_bytes() for f in tmp_data_dir.iterdir()} == before


def test_catalog_file_is_published_once_per_change(
    tmp_data_dir: Path, tmp_path: Path, free_port: Callable[[], int], reaper: ProcessReaper
) -> None:
    catalog = tmp_path / "catalog.json"
    site = ("--data", tmp_data_dir, "--site", "north", "--token", NORTH_TOKEN, "--catalog", catalog)
    # Re-publishing an unchanged file keeps its version (tested in process); a changed
    # file at the next start makes a new one.
    for attempt, (price, version) in enumerate([(1250, 1), (1500, 2)]):
        catalog.write_text(json.dumps(a_catalog(price=price)))
        service = Service(reaper, free_port(), tmp_path / f"run{attempt}.log", *site)
        with service.client(**NORTH) as client:
            body = client.get("/v1/catalog").json()
        assert (body["version"], body["catalog"]["items"]["burger"]["price"]) == (version, price)
        assert stop_cleanly(service.proc) == 0

    catalog.write_text(json.dumps({"items": {}}))
    bad = run_quick(*site)
    assert bad.returncode == 2 and "missing top-level keys" in bad.stderr
    catalog.write_text("{not json")
    assert run_quick(*site).returncode == 2


def test_fault_knob_and_port_clash_on_the_real_process(
    tmp_data_dir: Path, tmp_path: Path, free_port: Callable[[], int], reaper: ProcessReaper
) -> None:
    service = Service(
        reaper,
        free_port(),
        tmp_path / "service.log",
        *("--data", tmp_data_dir, "--site", "north", "--token", NORTH_TOKEN),
        *("--admin-token", ADMIN_TOKEN),
    )
    with service.client(**NORTH) as client, service.client(**ADMIN) as admin:
        admin.put("/v1/admin/fault", json={"mode": "error", "requests": 2}).raise_for_status()
        assert client.post("/v1/checks", json={"checks": [a_check("A1")]}).status_code == 500
        assert client.get("/v1/health").status_code == 500
        assert post(client, a_check("A1"))[0]["number"] == 1

        admin.put("/v1/admin/fault", json={"mode": "malformed", "requests": 1}).raise_for_status()
        response = client.post("/v1/checks", json={"checks": [a_check("A1")]})
        with pytest.raises(json.JSONDecodeError):
            response.json()

        admin.put("/v1/admin/fault", json={"mode": "delay", "delay_ms": 3000}).raise_for_status()
        with pytest.raises(httpx.ReadTimeout):
            client.get("/v1/health", timeout=0.5)
        admin.put("/v1/admin/fault", json={"mode": "off"}).raise_for_status()
        assert client.get("/v1/health").json() == {"ok": True}
    # A second service on the same port fails fast instead of hanging.
    clash = run_quick("--port", service.url.rsplit(":", 1)[1], "--data", tmp_path / "other")
    assert clash.returncode == 1
    assert stop_cleanly(service.proc) == 0


def test_a_start_that_cannot_listen_exits_1_with_an_error_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        clash = run_quick("--port", str(port), "--data", tmp_path / "clash")
    # (An address that is not this machine's takes the same path; tests use loopback
    # only, so the taken port stands for both.)
    assert clash.returncode == 1, clash.stderr
    not_json = [line for line in clash.stderr.splitlines() if not line.startswith("{")]
    assert len(not_json) == 1, clash.stderr
    assert not_json[0].startswith(f"error: cannot listen on 127.0.0.1:{port}: "), clash.stderr
    assert "could not start serving" in clash.stderr  # the log line stays


def test_service_on_postgresql_keeps_numbers_across_restarts(
    postgres_server: PostgresServer,
    tmp_path: Path,
    free_port: Callable[[], int],
    reaper: ProcessReaper,
) -> None:
    db = ("--db", postgres_server.create_database(), "--site", "north", "--token", NORTH_TOKEN)
    first = Service(reaper, free_port(), tmp_path / "first.log", *db)
    with first.client(**NORTH) as client:
        with ThreadPoolExecutor(max_workers=8) as pool:
            numbers = list(
                pool.map(lambda i: post(client, a_check(f"P{i}"))[0]["number"], range(16))
            )
        assert sorted(numbers) == list(range(1, 17))
    assert stop_cleanly(first.proc) == 0
    second = Service(reaper, free_port(), tmp_path / "second.log", *db)
    with second.client(**NORTH) as client:
        assert post(client, a_check("P3"), a_check("NEW")) == [
            {"temp_id": "P3", "number": numbers[3], "created": False},
            {"temp_id": "NEW", "number": 17, "created": True},
        ]
    assert stop_cleanly(second.proc) == 0
