"""Storage foundations: the declarative base, portable column types, engines and sessions.

Everything here must work the same on SQLite (one restaurant, the default) and on
PostgreSQL (a chain). Datetimes are always stored and returned as aware UTC values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

# Named constraints make migrations and error messages predictable on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLITE_BUSY_TIMEOUT = 30.0  # seconds a writer waits for another writer's lock


class UTCDateTime(TypeDecorator[dt.datetime]):
    """An aware datetime stored as UTC; SQLite keeps no zone, so naive values read back as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: the zone of a sale must be explicit")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


JSONDocument = dict[str, Any]

# Reusable column shapes (warehouse style): the annotation says the type and nullability.
IntPK = Annotated[int, mapped_column(primary_key=True)]
Money = Annotated[int, mapped_column(BigInteger)]
Name = Annotated[str, mapped_column(String(128))]
ShortText = Annotated[str, mapped_column(String(64))]


class Base(DeclarativeBase):
    """The one declarative base of the back office."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        JSONDocument: JSON(),
        str: String(255),
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the per-backend settings numbering relies on."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT, "check_same_thread": False},
        )
        _serialise_sqlite_writers(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _serialise_sqlite_writers(engine: Engine) -> None:
    """Make every SQLite transaction take the write lock when it begins.

    pysqlite's default deferred BEGIN lets two transactions read and then both try to
    upgrade to a write lock, which SQLite answers with "database is locked" at once.
    BEGIN IMMEDIATE queues writers on the busy timeout instead, so the counter read and
    increment in numbering are one atomic step.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (below) instead of the driver.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_schema(engine: Engine) -> None:
    # Importing the models registers their tables on Base.metadata.
    from cloud import models  # noqa: F401

    Base.metadata.create_all(engine)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session, one transaction: committed on success, rolled back on any error."""
    with factory() as session, session.begin():
        yield session
