"""The one console script, ``tablemesh``: every subcommand named in DESIGN.md.

This module is the composition root: it is the only place in ``mesh`` allowed
to reach the apps (``terminal``, ``kitchen``) and the ``cloud`` service, and it
does so lazily, inside the subcommand that needs them, so that a headless node
never imports Kivy. A subcommand whose part is not built yet says so, names
what is missing, and exits 2: it never prints fake output.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

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
def node(data_dir: str) -> None:
    """Run a headless node whose identity, keys, config, log and state live in DATA."""
    _not_built("node", "mesh/node, mesh/net and mesh/client (issue 6)")


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
def terminal(data_dir: str) -> None:
    """Run the server's touchscreen app, with its node inside."""
    _not_built("terminal", "the terminal app (issue 9), on top of the node (issue 6)")


@main.command()
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
@click.option("--station", type=click.Choice(["grill", "fry", "cold", "bar", "expo"]))
def kitchen(data_dir: str, station: str | None) -> None:
    """Run a kitchen display screen, with its node inside."""
    _not_built("kitchen", "the kitchen app (issue 10), on top of the node (issue 6)")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.pass_context
def cloud(ctx: click.Context) -> None:
    """Run the reference back office (HTTP); see docs/cloud.md for its options."""
    try:
        from cloud.main import run
    except ImportError:
        _not_built("cloud", "the cloud service (issue 8)")
    sys.exit(run(list(ctx.args)))


@main.command()
@click.option("--headless", is_flag=True, help="No windows: nodes and cloud only.")
@click.option("--nodes", default=5, show_default=True, help="How many nodes to start.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), help="Where the site lives.")
@click.option("--script", help="Drive the site through a scripted evening (e.g. dinner-rush).")
def demo(headless: bool, nodes: int, data_dir: str | None, script: str | None) -> None:
    """Run a whole restaurant on one machine."""
    _not_built("demo", "the node (issue 6), cloud/sync (issue 8) and the apps (issues 9, 10)")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON contract.")
@click.argument("what", type=click.Choice(["status", "submit", "state", "checks", "tickets",
                                          "members", "enrol"]))  # fmt: skip
def ctl(data_dir: str, as_json: bool, what: str) -> None:
    """Talk to a running node over its control socket."""
    _not_built("ctl", "the node's control socket (issue 6)")


@main.group()
def site() -> None:
    """Set up a site's devices (keys, configuration, sample catalog)."""


@site.command("init")
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False))
@click.option("--nodes", default=3, show_default=True)
def site_init(data_dir: str, nodes: int) -> None:
    """Write the configuration and keys for NODES devices of one site."""
    _not_built("site init", "the node's storage and keys (issue 6)")


@main.command()
@click.option("--quick", is_flag=True, help="A short run, for a smoke check.")
def bench(quick: bool) -> None:
    """Run the benchmarks and print their figures."""
    _not_built("bench", "the benchmark runner (issue 12); single benchmarks live in bench/")


if __name__ == "__main__":
    main()
