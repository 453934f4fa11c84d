"""The back office's command line: ``tablemesh cloud`` (also ``python -m cloud``).

Prepares the database (and optionally a site and its catalog), then serves the HTTP
API with uvicorn until SIGTERM or SIGINT, and exits 0 after a clean shutdown.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cloud.app import create_app
from cloud.catalog import CatalogError, load_catalog_file, publish_catalog
from cloud.db import create_schema, make_engine, make_session_factory, transaction
from cloud.limits import DEFAULT_MAX_BODY_BYTES
from cloud.logs import configure_logging, log_event
from cloud.sites import (
    SiteError,
    check_site_name,
    check_token_strength,
    create_site,
    ensure_site,
)

log = logging.getLogger("cloud")

DEFAULT_PORT = 8750
SQLITE_FILE = "cloud.sqlite3"


class StartupError(Exception):
    """The service cannot start as asked; the message says why (exit status 2)."""


class ServeError(Exception):
    """The service cannot listen where asked (port taken, not this machine's address): exit 1."""


@click.command(name="cloud", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--data",
    "data_dir",
    default="cloud-data",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Directory for the default SQLite database ({SQLITE_FILE}).",
)
@click.option(
    "--db",
    "db_url",
    default=None,
    help="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db (default: SQLite in --data).",
)
@click.option(
    "--create-site", default=None, metavar="NAME", help="Create a site, print its token, exit."
)
@click.option(
    "--site", default=None, metavar="NAME", help="Create or verify this site (with --token)."
)
@click.option(
    "--token",
    default=None,
    envvar="TABLEMESH_CLOUD_SITE_TOKEN",
    help="The --site's token (at least 16 characters).",
)
@click.option(
    "--catalog",
    "catalog_file",
    default=None,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A catalog JSON file to publish for the site at start.",
)
@click.option(
    "--admin-token",
    default=None,
    envvar="TABLEMESH_CLOUD_ADMIN_TOKEN",
    help="Enables /v1/admin/* (fault knob, site creation) for this bearer token.",
)
@click.option(
    "--max-body-bytes", default=DEFAULT_MAX_BODY_BYTES, show_default=True, type=click.IntRange(1)
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def command(
    host: str,
    port: int,
    data_dir: Path,
    db_url: str | None,
    create_site: str | None,
    site: str | None,
    token: str | None,
    catalog_file: Path | None,
    admin_token: str | None,
    max_body_bytes: int,
    log_level: str,
) -> int:
    """Run the tablemesh reference back office."""
    if (site is None) != (token is None):
        raise StartupError("--site and --token go together")
    if create_site is not None and site is not None:
        raise StartupError("use either --create-site or --site/--token")
    if catalog_file is not None and create_site is None and site is None:
        raise StartupError("--catalog needs --site/--token or --create-site")
    # Everything the command line can get wrong is checked before the first write
    # (data directory, schema, site), so a refused start leaves the database as it was
    # and makes none. The site's name and token are checked again when the site is made;
    # only what needs the database (a taken name, another token) is found there.
    for name in (create_site, site):
        if name is not None:
            check_site_name(name)
    if token is not None:
        check_token_strength(token)
    catalog = None if catalog_file is None else load_catalog_file(catalog_file)
    sqlite_dir = data_dir if db_url is None else None  # with --db, --data is not used
    if db_url is None:
        db_url = f"sqlite:///{(data_dir / SQLITE_FILE).resolve()}"
    engine = _make_engine(db_url)
    try:
        configure_logging(log_level)
        if sqlite_dir is not None:
            sqlite_dir.mkdir(parents=True, exist_ok=True)
        create_schema(engine)
        if create_site is not None:
            new_token = _create_site(engine, create_site, catalog)
            click.echo(new_token)
            return 0
        if site is not None and token is not None:
            _ensure_site(engine, site, token, catalog)
        return _serve(engine, host, port, admin_token, max_body_bytes, log_level)
    finally:
        engine.dispose()


def _make_engine(db_url: str) -> Engine:
    """The engine for ``--db``; a URL no engine can be made from is a usage error.

    Making an engine parses the URL and imports its driver but does not connect, so
    what fails here is the value itself (a database that is down fails later, exit 1).
    """
    try:
        return make_engine(db_url)
    except (ArgumentError, ValueError, ImportError) as exc:
        # NoSuchModuleError (unknown dialect) is an ArgumentError; a bad port a ValueError.
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StartupError(f"--db {_shown_url(db_url)}: unusable database URL ({reason})") from None


def _shown_url(db_url: str) -> str:
    # The password stays out of the message when the URL parses far enough to find it.
    try:
        return repr(make_url(db_url).render_as_string(hide_password=True))
    except (ArgumentError, ValueError):
        return repr(db_url)


def _create_site(engine: Engine, name: str, catalog: dict[str, Any] | None) -> str:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        created, token = create_site(session, name)
        published = None if catalog is None else publish_catalog(session, created.id, catalog)
    # Logged after the commit: a rolled-back start must not claim it created the site.
    log_event(log, "site created", site=name)
    _log_published(name, published)
    return token


def _ensure_site(engine: Engine, name: str, token: str, catalog: dict[str, Any] | None) -> None:
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        found, created = ensure_site(session, name, token)
        published = None if catalog is None else publish_catalog(session, found.id, catalog)
    log_event(log, "site created" if created else "site verified", site=name)
    _log_published(name, published)


def _log_published(name: str, published: tuple[int, bool] | None) -> None:
    if published is not None:
        version, changed = published
        log_event(log, "catalog loaded", site=name, version=version, changed=changed)


def _serve(
    engine: Engine,
    host: str,
    port: int,
    admin_token: str | None,
    max_body_bytes: int,
    log_level: str,
) -> int:
    app = create_app(
        make_session_factory(engine), admin_token=admin_token, max_body_bytes=max_body_bytes
    )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        log_level=log_level,
        lifespan="off",
        server_header=False,
    )
    server = uvicorn.Server(config)

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Uvicorn swaps in its own handlers while serving and, once it has shut down,
        # re-raises the signal it caught; landing here then makes that a clean exit.
        log_event(log, "stop requested", signal=signal.Signals(signum).name)
        server.should_exit = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log_event(log, "starting", host=host, port=port, db=engine.url.render_as_string())
    why: BaseException | None = None
    try:
        server.run()
    except SystemExit as exc:
        # Uvicorn logs why it cannot bind and exits from inside its ``except OSError``,
        # so that OSError is the exit's context: the reason for the line on stderr.
        server.started = False
        why = exc.__context__
    if not server.started:
        log.error("could not start serving", extra={"fields": {"host": host, "port": port}})
        raise ServeError(f"cannot listen on {_address(host, port)}: {_bind_failure(why)}")
    log_event(log, "stopped")
    return 0


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind_failure(why: BaseException | None) -> str:
    if isinstance(why, OSError) and why.errno is not None and why.errno > 0:
        return os.strerror(why.errno)  # "Address already in use", without uvicorn's wrapping
    if isinstance(why, OSError) and why.strerror:
        return why.strerror  # a host name that does not resolve (a negative gaierror errno)
    return "see the log above"  # uvicorn exited for a reason it did not hand on


def run(argv: list[str] | None = None) -> int:
    """Entry point for ``tablemesh cloud``: returns the process exit status."""
    try:
        result = command.main(args=argv, prog_name="tablemesh cloud", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        return 1
    except (StartupError, SiteError, CatalogError) as exc:
        # Before logging is set up, logging would print the bare message as a second line.
        if logging.getLogger().hasHandlers():
            log.error(str(exc))
        click.echo(f"error: {exc}", err=True)
        return 2
    except SQLAlchemyError as exc:
        log.error("database error", extra={"fields": {"error": str(exc)}})
        click.echo(f"error: database: {exc}", err=True)
        return 1
    except ServeError as exc:  # _serve has logged it
        click.echo(f"error: {exc}", err=True)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(run())
