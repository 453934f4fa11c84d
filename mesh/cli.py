"""The one console script, ``tablemesh``: every subcommand named in DESIGN.md.

This module is the composition root: it is the only place in ``mesh`` allowed
to reach the apps (``terminal``, ``kitchen``) and the ``cloud`` service, and it
does so lazily, inside the subcommand that needs them, so that a headless node
never imports Kivy. A subcommand whose part is not built yet says so, names
what is missing, and exits 2: it never prints fake output.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from mesh.node.config import KDS_STATIONS

if TYPE_CHECKING:
    from mesh.node.join import JoinError

NOT_BUILT_EXIT = 2


def _not_built(command: str, missing: str) -> NoReturn:
    click.echo(
        f"tablemesh {command}: not built yet: needs {missing}. See docs/ for what exists today.",
        err=True,
    )
    sys.exit(NOT_BUILT_EXIT)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tablemesh")
def main() -> None:
    """tablemesh: a restaurant's terminals and kitchen screens that keep selling offline.

    Every device runs a node; nodes find each other with mDNS, elect a leader
    with Raft over ZeroMQ, and replicate one log of checks and tickets.
    """


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
@click.option("--log-level", default="INFO", show_default=True)
@click.option(
    "--enrol",
    "enrol_code",
    metavar="CODE",
    help="First start of a new device: join the site found by mDNS with a manager's code.",
)
@click.option("--name", help="With --enrol: this device's name (e.g. bar-2).")
@click.option(
    "--role",
    type=click.Choice(["hub", "terminal", "kds", "handheld"]),
    default="terminal",
    show_default=True,
    help="With --enrol: what this device is.",
)
@click.option(
    "--station", help=f"With --enrol, for a kds: its station ({', '.join(KDS_STATIONS)})."
)
@click.option(
    "--bind", metavar="tcp://ADDRESS:PORT", help="With --enrol: this device's LAN address."
)
@click.option("--site", "site_name", help="With --enrol: the site, if several answer.")
def node(
    data_dir: str,
    log_level: str,
    enrol_code: str | None,
    name: str | None,
    role: str,
    station: str | None,
    bind: str | None,
    site_name: str | None,
) -> None:
    """Run a headless node whose identity, keys, config, log and state live in DATA.

    A new device joins once with --enrol CODE --name NAME --bind tcp://ADDRESS:PORT
    (see docs/membership.md); afterwards plain --data DIR starts it.
    """
    import asyncio

    from mesh import logs
    from mesh.node.config import ConfigError
    from mesh.node.runner import run_node

    logs.configure(log_level)
    if enrol_code is not None:
        if not name or not bind:
            click.echo("tablemesh node: --enrol needs --name and --bind", err=True)
            sys.exit(1)
        from mesh.node.join import BindError, JoinError, StationError, join_site

        try:
            joined = asyncio.run(
                join_site(
                    Path(data_dir),
                    enrol_code,
                    name=name,
                    role=role,
                    bind=bind,
                    station=station,
                    site=site_name,
                )
            )
        except BindError as exc:
            # This device's own mistake, found before anything was sent: no site refused it.
            click.echo(f"tablemesh node: bad --bind {bind!r}: {exc}", err=True)
            sys.exit(1)
        except StationError as exc:
            click.echo(f"tablemesh node: bad --station {station!r}: {exc}", err=True)
            sys.exit(1)
        except JoinError as exc:
            click.echo(enrol_failure(exc), err=True)
            sys.exit(1)
        click.echo(
            f"enrolled as {joined.node} at site {joined.site} "
            f"(check IDs {joined.prefix}-...); starting as a learner",
            err=True,
        )
    from mesh.net.keys import KeyFileError

    try:
        code = asyncio.run(run_node(Path(data_dir)))
    except (ConfigError, KeyFileError) as exc:
        click.echo(f"tablemesh node: {exc}", err=True)
        sys.exit(1)
    sys.exit(code)


def enrol_failure(exc: JoinError) -> str:
    """What ``node --enrol`` says when it did not join: whose "no" it was, and why.

    Only the site's answer is a refusal; the rest (this directory is set up already,
    no site or several answer, no door answered) is this device's to fix.
    """
    from mesh.node.join import SiteRefused

    if isinstance(exc, SiteRefused):
        return f"tablemesh node: enrolment refused ({exc.code}): {exc}"
    message = str(exc)
    if exc.code == "several_sites":
        # The sites' names are the join's facts; the option is this command's.
        found = ", ".join(str(s) for s in exc.extra.get("sites", ())) or "?"
        message = f"several sites answer here ({found}): pick one with --site NAME"
    return f"tablemesh node: cannot enrol ({exc.code}): {message}"


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
def terminal(data_dir: str) -> None:
    """Run the server's touchscreen app, with its node inside."""
    try:
        from terminal.main import run
    except ImportError:
        _not_built("terminal", "the terminal app (issue 9)")
    sys.exit(run(Path(data_dir)))


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
@click.option("--station", type=click.Choice(KDS_STATIONS))
def kitchen(data_dir: str, station: str | None) -> None:
    """Run a kitchen display screen, with its node inside."""
    try:
        from kitchen.main import run
    except ImportError:
        _not_built("kitchen", "the kitchen app (issue 10)")
    sys.exit(run(Path(data_dir), station))


@main.command(
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def cloud(ctx: click.Context) -> None:
    """Run the reference back office (HTTP); see docs/cloud.md for its options."""
    try:
        from cloud.main import run
    except ImportError:
        _not_built("cloud", "the cloud service (issue 8)")
    sys.exit(run(list(ctx.args)))


@main.command()
@click.option("--headless", is_flag=True, help="No windows: nodes (and cloud) only.")
@click.option("--nodes", default=5, show_default=True, type=click.IntRange(min=1),
              help="How many nodes to start.")  # fmt: skip
@click.option(
    "--data",
    "data_dir",
    default="demo-data",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the site lives; reused (restarted) when it exists.",
)
@click.option("--script", help="Drive the site through a scripted evening (e.g. dinner-rush).")
def demo(headless: bool, nodes: int, data_dir: str, script: str | None) -> None:
    """Run a whole restaurant on one machine: windows and a control console (or --headless)."""
    if script is not None:
        from mesh.demo_script import SCRIPTS, run_script

        if script not in SCRIPTS:
            click.echo(f"tablemesh demo: no script {script!r}; try {', '.join(SCRIPTS)}", err=True)
            sys.exit(2)
        sys.exit(run_script(script, Path(data_dir), nodes))
    if headless:
        from mesh.demo import run_headless

        sys.exit(run_headless(Path(data_dir), nodes))
    from mesh.demo_windows import run_windowed

    sys.exit(run_windowed(Path(data_dir), nodes))


# Each of ctl's options and the commands that read it.
CTL_OPTION_USERS = {
    "--timeout": ("submit",), "--table": ("checks",), "--server": ("checks",),
    "--check": ("checks",), "--all": ("checks",), "--station": ("tickets",),
    "--include-bumped": ("tickets",), "--ttl": ("enrol-code",),
}  # fmt: skip


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON contract.")
@click.option("--timeout", type=float, help="Seconds to wait for a submit to be acknowledged.")
@click.option("--table", help="checks: only this table.")
@click.option("--server", help="checks: only this server's.")
@click.option("--check", "check_ref", help="checks: one check (temporary ID or number).")
@click.option("--all", "all_checks", is_flag=True, help="checks: closed ones too.")
@click.option("--station", help="tickets: only this station's.")
@click.option("--include-bumped", is_flag=True, help="tickets: bumped ones too.")
@click.option("--ttl", type=float, help="enrol-code: seconds the code stays valid.")
@click.argument(
    "what",
    type=click.Choice(
        ["status", "submit", "state", "checks", "tickets", "members", "enrol-code", "revoke"]
    ),
)
@click.argument("command", required=False)
def ctl(
    data_dir: str,
    as_json: bool,
    timeout: float | None,
    table: str | None,
    server: str | None,
    check_ref: str | None,
    all_checks: bool,
    station: str | None,
    include_bumped: bool,
    ttl: float | None,
    what: str,
    command: str | None,
) -> None:
    """Talk to a running node over its control socket (see docs/ctl.md).

    For submit, COMMAND is the command as JSON (docs/commands.md), or - to read it
    from standard input. For checks, COMMAND is one check (as --check). For revoke,
    COMMAND is the device to remove (a lost tablet). enrol-code makes a one-time code
    for a new device (docs/membership.md).
    """
    from mesh.ctl import run_ctl

    given = {
        "--timeout": timeout is not None, "--table": table is not None,
        "--server": server is not None, "--check": check_ref is not None,
        "--all": all_checks, "--station": station is not None,
        "--include-bumped": include_bumped, "--ttl": ttl is not None,
    }  # fmt: skip
    # An option the command does not read is a mistake to say, not to drop: a script
    # passing --timeout to status would believe it waits that long.
    for option in (o for o, on in given.items() if on and what not in CTL_OPTION_USERS[o]):
        users = " and ".join(CTL_OPTION_USERS[option])
        raise click.UsageError(f"{option} applies to ctl {users} only, not to ctl {what}")
    args: dict[str, object] = {}
    if command is not None and what not in ("submit", "checks", "revoke"):
        raise click.UsageError(f"ctl {what} takes no argument (got {command!r})")
    if what == "checks" and command is not None:
        # ``ctl checks REF`` is ``ctl checks --check REF``.
        if check_ref is not None and check_ref != command:
            raise click.UsageError("give the check once: ctl checks REF, or --check REF")
        check_ref = command
    if what == "submit":
        if command is None:
            raise click.UsageError("submit needs COMMAND (JSON, or - for standard input)")
        args["command_text"] = sys.stdin.read() if command == "-" else command
        if timeout is not None:
            args["timeout"] = timeout
    elif what == "checks":
        args.update(table=table, server=server, check=check_ref, all=all_checks)
    elif what == "tickets":
        args.update(station=station, include_bumped=include_bumped)
    elif what == "enrol-code":
        args.update(ttl_s=ttl)
    elif what == "revoke":
        if not command:
            raise click.UsageError("revoke needs the device's name, e.g. ctl revoke t4")
        args["node"] = command
    sys.exit(run_ctl(Path(data_dir), what, args, as_json=as_json))


@main.group()
def site() -> None:
    """Set up a site's devices (keys, configuration, sample catalog)."""


@site.command("init")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
@click.option("--nodes", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--site", "site_name", default="demo", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the nodes bind.")
@click.option("--mdns", is_flag=True, help="Also find peers by mDNS on --host.")
def site_init(data_dir: str, nodes: int, site_name: str, host: str, mdns: bool) -> None:
    """Write DATA/<device>/ for NODES devices of one site: keys, config, sample catalog."""
    from mesh.node.site_setup import default_devices, init_site

    try:
        logins = init_site(
            Path(data_dir), default_devices(nodes), site=site_name, host=host, mdns=mdns
        )
    except (FileExistsError, ValueError) as exc:
        click.echo(f"tablemesh site init: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:  # no such host, or not an address of this machine
        click.echo(f"tablemesh site init: cannot listen on --host {host}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"site {site_name!r}: {nodes} devices in {data_dir}/n1..n{nodes}")
    for login in logins:
        click.echo(f"  {login.name:<5} {login.role:<10} PIN {login.pin}")


@main.command()
@click.option("--quick", is_flag=True, help="Short runs (the default).")
@click.option("--full", is_flag=True, help="The full runs (tens of minutes).")
@click.option("--only", multiple=True, help="Run only this benchmark (repeatable).")
def bench(quick: bool, full: bool, only: tuple[str, ...]) -> None:
    """Run every benchmark; figures and plots go to bench/results/ (see docs/benchmarks.md)."""
    import subprocess

    if quick and full:
        raise click.UsageError("--quick and --full exclude each other")
    # bench/ lives beside the package in a source checkout; it is not installed.
    runner = Path(__file__).resolve().parents[1] / "bench" / "run_all.py"
    if not runner.exists():
        _not_built("bench", "a source checkout: bench/run_all.py sits beside mesh/")
    args = [sys.executable, str(runner), "--full" if full else "--quick"]
    args += [a for name in only for a in ("--only", name)]
    sys.exit(subprocess.call(args, cwd=runner.parents[1]))


if __name__ == "__main__":
    main()
