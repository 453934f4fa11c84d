"""``tablemesh ctl``: one request to a running node, printed for people or (``--json``) scripts.

With ``--json`` the node's reply is printed as one JSON object, exactly the
contract of docs/ctl.md; the exit status is 0 when ``ok`` is true, 1 when the
node refused or failed the request, and 3 when no node could be reached. An
option out of its documented range is a usage error (exit 2, a message on
standard error, no JSON, nothing sent), as click makes of one it cannot parse.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mesh.client.api import ClientError, ControlClient
from mesh.node.config import ConfigError
from mesh.node.enrolment import MAX_TTL_S

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNREACHABLE = 3

SUBMIT_TIMEOUT_MAX_S = 60.0  # s, as the node's own check of "timeout" (mesh/node/control_ops.py)
# ctl's numeric options, by their key in the request: the option and the top of its
# range (0, top], as docs/ctl.md gives it. The node checks them again: scripts may
# talk to the socket without ctl.
OPTION_RANGES = {"timeout": ("--timeout", SUBMIT_TIMEOUT_MAX_S), "ttl_s": ("--ttl", MAX_TTL_S)}


def check_option_ranges(args: dict[str, Any]) -> None:
    """Raise a click usage error for a numeric option outside its range (NaN and inf too)."""
    for key, (option, top) in OPTION_RANGES.items():
        value = args.get(key)
        if value is not None and not 0 < value <= top:  # NaN compares false: refused
            raise click.BadParameter(
                f"{value:g} is not a number of seconds in (0, {top:g}]",
                ctx=click.get_current_context(silent=True),
                param_hint=f"'{option}'",
            )


def _request(what: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]] | str:
    """The control op and its arguments, or an error message for the user."""
    if what != "submit":
        op = what.replace("-", "_")  # enrol-code on the command line is op enrol_code
        # Options not given are None (flags False); numbers were range-checked already.
        return op, {k: v for k, v in args.items() if v is not None and v is not False}
    try:
        command = json.loads(args["command_text"])
    except json.JSONDecodeError as exc:
        return f"COMMAND is not valid JSON: {exc}"
    if not isinstance(command, dict):
        return "COMMAND must be a JSON object (see docs/commands.md)"
    out: dict[str, Any] = {"command": command}
    if args.get("timeout") is not None:
        out["timeout"] = args["timeout"]
    return "submit", out


def _member_line(m: dict[str, Any]) -> str:
    heard = "never heard" if m["last_heard"] is None else f"heard {m['last_heard']:.1f} s ago"
    match = "-" if m["match_index"] is None else m["match_index"]
    return (
        f"{m['node']:<6} {m.get('role') or '?':<9} {'voter' if m['voter'] else 'learner':<8} "
        f"{'reachable' if m['reachable'] else 'UNREACHABLE':<12} {heard}, match {match}"
    )


def refusal_line(reply: dict[str, Any]) -> str:
    """A refusal for people: its code and words, and for ``not_leader`` whom to ask.

    The leader's id sits beside ``error`` in the reply (docs/ctl.md), where a person
    reading only the message would never see it.
    """
    err = reply.get("error", {})
    line = f"error [{err.get('code')}]: {err.get('message')}"
    if err.get("code") != "not_leader":
        return line
    leader = reply.get("leader")
    if isinstance(leader, str) and leader:
        return f"{line}: the leader is {leader} (run ctl with {leader}'s --data, on its device)"
    # No leader known here: an election is under way, or this device is cut off.
    return f"{line}: no leader known right now; try again in a few seconds"


def _human(what: str, reply: dict[str, Any]) -> str:
    if not reply.get("ok"):
        return refusal_line(reply)
    if what == "status":
        return (
            f"{reply['node']}: {reply['role']} "
            f"(leader {reply['leader'] or 'not known right now'}, term {reply['term']}), "
            f"dot {reply['dot']}, applied {reply['applied_index']}/{reply['commit_index']}, "
            f"hash {reply['state_hash'][:12]}"
        )
    if what == "checks" and "checks" in reply:
        lines = [
            f"{c['id']:<10} #{c['number'] or '-':<5} table {c['table']:<5} {c['status']:<8} "
            f"total {c['total']:>7} balance {c['balance']:>7}"
            for c in reply["checks"]
        ]
        return "\n".join(lines) or "no checks"
    if what == "tickets":
        lines = [
            f"{t['id']:<6} {t['station']:<6} {t['status']:<7} items {len(t.get('items', []))}"
            for t in reply["tickets"]
        ]
        return "\n".join(lines) or "no tickets"
    if what == "members":
        return "\n".join(_member_line(m) for m in reply["members"])
    if what == "enrol-code":
        return (
            f"enrolment code {reply['code']}: valid once, for {reply['ttl_s']:g} s "
            "(tablemesh node --enrol CODE on the new device)"
        )
    body = {k: v for k, v in reply.items() if k != "ok"}
    return json.dumps(body, indent=2, sort_keys=True)


def run_ctl(data_dir: Path, what: str, args: dict[str, Any], *, as_json: bool) -> int:
    check_option_ranges(args)
    built = _request(what, args)
    if isinstance(built, str):
        # Refused before it reached a node, as the node refuses a command that is not one.
        if as_json:
            print(json.dumps({"ok": False, "error": {"code": "invalid", "message": built}}))
        else:
            print(f"tablemesh ctl: {built}", file=sys.stderr)
        return EXIT_REFUSED
    op, body = built
    try:
        reply = ControlClient(data_dir).call(op, **body)
    except (ClientError, ConfigError) as exc:
        if as_json:
            unreachable = {"ok": False, "error": {"code": "unreachable", "message": str(exc)}}
            print(json.dumps(unreachable))
        else:
            print(f"tablemesh ctl: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(json.dumps(reply, sort_keys=True) if as_json else _human(what, reply))
    return EXIT_OK if reply.get("ok") else EXIT_REFUSED
