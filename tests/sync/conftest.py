"""Fixtures for the sync tests: a throw-away PostgreSQL server for the cloud, when installed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cloud.cloudkit import PostgresServer, PostgresUnavailable, running_postgres


@pytest.fixture(scope="session")
def sync_postgres_or_reason() -> Iterator[PostgresServer | str]:
    """One PostgreSQL server on 127.0.0.1 for the session, or why there cannot be one.

    Session-scoped so that it starts before the per-test leak guard counts child
    processes (the server is not a leftover of the first test that uses it).
    """
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailable as exc:
        yield f"no PostgreSQL here ({exc}); Debian: apt-get install postgresql"


@pytest.fixture(params=["sqlite", "postgresql"])
def cloud_db(
    request: pytest.FixtureRequest, sync_postgres_or_reason: PostgresServer | str
) -> str | None:
    """The cloud's database: None for its default SQLite, else a fresh PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    if isinstance(sync_postgres_or_reason, str):
        pytest.skip(sync_postgres_or_reason)
    return sync_postgres_or_reason.create_database()
