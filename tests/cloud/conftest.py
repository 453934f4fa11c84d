"""Fixtures for the back office's tests (helpers live in ``tests/cloud/cloudkit.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cloud.cloudkit import (
    AppClient,
    CloudApp,
    PostgresServer,
    PostgresUnavailable,
    build_app,
    running_postgres,
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cloud.sqlite3'}"


@pytest.fixture
def cloud_app(sqlite_url: str) -> Iterator[CloudApp]:
    built = build_app(sqlite_url)
    try:
        yield built
    finally:
        built.engine.dispose()


@pytest.fixture
def client(cloud_app: CloudApp) -> Iterator[AppClient]:
    with AppClient(cloud_app.app) as app_client:
        yield app_client


@pytest.fixture(scope="session")
def postgres_or_reason() -> Iterator[PostgresServer | str]:
    """One throw-away PostgreSQL server for the session, or why there cannot be one.

    Session-scoped, and named statically by the fixtures below, so pytest starts it
    before the per-test leak guard counts child processes: the server is not taken for
    a leftover of the first test that uses it.
    """
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        yield f"no PostgreSQL here ({exc}); Debian: apt-get install postgresql"


@pytest.fixture
def postgres_server(postgres_or_reason: PostgresServer | str) -> PostgresServer:
    if isinstance(postgres_or_reason, str):
        pytest.skip(postgres_or_reason)
    return postgres_or_reason


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_url(
    request: pytest.FixtureRequest, sqlite_url: str, postgres_or_reason: PostgresServer | str
) -> str:
    """A fresh database URL on each backend (PostgreSQL skipped where not installed)."""
    if request.param == "sqlite":
        return sqlite_url
    if isinstance(postgres_or_reason, str):
        pytest.skip(postgres_or_reason)
    return postgres_or_reason.create_database()


@pytest.fixture
def any_db_app(any_db_url: str) -> Iterator[CloudApp]:
    built = build_app(any_db_url)
    try:
        yield built
    finally:
        built.engine.dispose()
