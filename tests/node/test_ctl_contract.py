"""``tablemesh ctl --json`` and the control socket as a script drives them (docs/ctl.md):
filters that add up, refusals that are JSON with the documented exit status, and
arguments of the wrong type refused rather than ignored. A live one-node site; ctl
as its own process, as a script runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mesh.ctl import _human
from mesh.ledger.check_ids import make_temp_id
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(180)

# docs/ctl.md: --timeout is at most 60 s, --ttl at most 3600 s; both more than 0.
BAD_SUBMIT_TIMEOUTS = ["61", "0", "-1", "nan", "inf"]
BAD_TTLS = ["0", "-5", "3601", "nan", "inf"]


def test_ctl_filters_refusals_and_exit_codes(tmp_path: Path, reaper: ProcessReaper) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=1)
    cluster.start()
    client = cluster.client("n1")

    def ctl(*argv: str) -> tuple[int, dict[str, Any] | None, str]:
        done = subprocess.run(
            [sys.executable, "-m", "mesh", "ctl", "--data", str(cluster.data("n1")), *argv],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        out = json.loads(done.stdout) if "--json" in argv and done.stdout.strip() else None
        return done.returncode, out, done.stderr

    def submit(command: dict[str, Any]) -> dict[str, Any]:
        reply = client.submit(command)
        assert reply["ok"], reply
        outcome: dict[str, Any] = reply
        return outcome

    closed = cluster.open_check("n1", table="12")
    soda = {"item": "soda", "qty": 1}
    submit({"type": "add_items", "by": "s-ana", "check": closed, "items": [soda]})
    submit({"type": "pay", "by": "s-ana", "check": closed, "tender": "cash"})
    submit({"type": "close_check", "by": "s-ana", "check": closed})
    still_open = cluster.open_check("n1", table="12")
    elsewhere = cluster.open_check("n1", table="13")

    # Filters add up: --all with --table is table 12's checks, closed ones too.
    code, got, _ = ctl("checks", "--all", "--table", "12", "--json")
    assert code == 0 and got is not None
    assert [c["id"] for c in got["checks"]] == [closed, still_open]
    code, got, _ = ctl("checks", "--table", "12", "--json")
    assert got is not None and [c["id"] for c in got["checks"]] == [still_open]
    code, got, _ = ctl("checks", "--all", "--server", "s-nobody", "--json")
    assert code == 0 and got == {"ok": True, "checks": []}
    code, got, _ = ctl("checks", "--all", "--json")
    assert got is not None and [c["id"] for c in got["checks"]] == [closed, still_open, elsewhere]
    # One check: as an argument or with --check.
    code, got, _ = ctl("checks", closed, "--json")
    assert code == 0 and got is not None and got["check"]["status"] == "closed"
    code, got, _ = ctl("checks", make_temp_id("ZZ", 7), "--json")  # well formed, unknown
    assert code == 1 and got is not None and got["error"]["code"] == "not_found"
    # A malformed reference is refused as a payment naming it is, not "no such check".
    bad_pay = {"type": "pay", "by": "s-ana", "check": "A2-99", "tender": "cash"}
    code, paid, _ = ctl("submit", json.dumps(bad_pay), "--json")
    assert code == 1 and paid is not None and paid["error"]["code"] == "invalid", paid
    for ref in ("A2-99", "NOPE-1"):
        code, got, _ = ctl("checks", ref, "--json")
        assert code == 1 and got is not None, (ref, got)
        assert got["ok"] is False and set(got["error"]) == {"code", "message"}, got
        assert got["error"]["code"] == "invalid", got
        assert f"'{ref}' is not a check ID" in got["error"]["message"]
    assert paid["error"]["message"].endswith(got["error"]["message"].replace("NOPE-1", "A2-99"))
    # An empty reference (a script's empty variable) is no check, not "every check".
    for argv in (("checks", ""), ("checks", "--check", "")):
        code, got, _ = ctl(*argv, "--json")
        assert code == 1 and got is not None and got["error"]["code"] == "invalid", (argv, got)
    code, got, err = ctl("checks", closed, "--check", elsewhere, "--json")
    assert code == 2 and got is None and "give the check once" in err
    code, got, err = ctl("status", "extra", "--json")
    assert code == 2 and "takes no argument" in err

    # Refused by ctl itself: one JSON object on stdout, exit 1, as a node's refusal.
    for text, why in (("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")):
        code, got, _ = ctl("submit", text, "--json")
        assert code == 1 and got is not None, (text, got)
        assert got["ok"] is False and got["error"]["code"] == "invalid"
        assert why in got["error"]["message"]
    # A 0 given is refused, not dropped for the default: by ctl as a usage error...
    code, got, err = ctl("enrol-code", "--ttl", "0", "--json")
    assert code == 2 and got is None and "'--ttl'" in err, err
    # ...and by the node for a script on the socket (ctl's check is not the only one).
    for op, args in (
        ("enrol_code", {"ttl_s": 0}),
        ("enrol_code", {"ttl_s": 3601}),
        ("submit", {"command": {"type": "open_check"}, "timeout": 61}),
        ("submit", {"command": {"type": "open_check"}, "timeout": 0}),
    ):
        reply = client.call(op, **args)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request", (op, args)
    # Money in minor units: a float says so.
    pay = {"type": "pay", "by": "s-ana", "check": still_open, "tender": "cash", "amount": 12.5}
    code, got, _ = ctl("submit", json.dumps(pay), "--json")
    assert code == 1 and got is not None and got["error"]["code"] == "invalid"
    assert "minor units" in got["error"]["message"]

    # Over the socket: a filter of the wrong type is a bad_request, never ignored.
    for op, args in (
        ("checks", {"check": 12}),
        ("checks", {"table": 12}),
        ("checks", {"all": "yes"}),
        ("checks", {"day": "2026-13-45"}),  # a typo is not "no sales that day"
        ("tickets", {"station": 7}),
        ("tickets", {"include_bumped": "yes"}),
        ("query", {"name": "all_day", "station": 7}),
        ("watch", {"after": 0, "timeout": 1000}),
        ("watch", {"after": True}),
        ("watch", {"after": 0, "timeout": -1}),
    ):
        reply = client.call(op, **args)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request", (op, args)
    assert client.call("watch", after=10**6, timeout=0.1)["ok"]
    # A budget spent before the first try, in quorum, is a timeout, not no_quorum
    # (which would send a script to wait for a network that is fine).
    hurried = client.submit({"type": "open_check", "by": "s-ana", "table": "9"}, timeout=1e-9)
    assert hurried["ok"] is False and hurried["error"]["code"] == "timeout", hurried
    assert client.call("checks", table="13")["checks"][0]["id"] == elsewhere


def _ctl_without_node(data: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``ctl --json`` on a directory where no node runs: only ctl's own checks answer."""
    return subprocess.run(
        [sys.executable, "-m", "mesh", "ctl", "--data", str(data), *argv, "--json"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        *(["submit", '{"type": "open_check"}', "--timeout", t] for t in BAD_SUBMIT_TIMEOUTS),
        *(["enrol-code", "--ttl", t] for t in BAD_TTLS),
    ],
    ids=lambda argv: " ".join(argv[-2:]),
)
def test_an_option_out_of_its_documented_range_is_a_usage_error(
    tmp_path: Path, argv: list[str]
) -> None:
    # No node runs in DATA: had ctl sent the request, it would exit 3 (unreachable).
    done = _ctl_without_node(tmp_path, argv)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert f"Invalid value for '{argv[-2]}'" in done.stderr


def test_a_second_node_on_a_running_devices_data_is_refused_and_the_first_serves_on(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=1)
    cluster.start()
    data = cluster.data("n1")
    argv = [sys.executable, "-m", "mesh", "node", "--data", str(data)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert "a node is already running on" in done.stderr and "Traceback" not in done.stderr
    assert cluster.client("n1").status()["ok"]  # untouched: its log, its sockets
    # A port ZeroMQ would wrap around (70000 listens on 4464) is refused in node.json.
    config = json.loads((data / "node.json").read_text())
    other = tmp_path / "copy"
    other.mkdir()
    (other / "node.json").write_text(json.dumps({**config, "bind": "tcp://127.0.0.1:70000"}))
    done = subprocess.run([*argv[:-1], str(other)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert done.returncode == 1 and "needs a port from 1 to 65535" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["status", "--timeout", "5"], "--timeout"),
        (["checks", "--station", "grill"], "--station"),
        (["tickets", "--all"], "--all"),
        (["submit", '{"type": "open_check"}', "--table", "4"], "--table"),
        (["members", "--ttl", "60"], "--ttl"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_an_option_the_command_does_not_read_is_a_usage_error(
    tmp_path: Path, argv: list[str], option: str
) -> None:
    # Dropped before: a script passing --timeout to status believed it waited that long.
    done = _ctl_without_node(tmp_path, argv)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert f"{option} applies to ctl " in done.stderr and f"not to ctl {argv[0]}" in done.stderr


@pytest.mark.parametrize(
    ("leader", "says"),
    [("n2", "the leader is n2 (run ctl with n2's --data"), (None, "no leader known right now")],
)
def test_a_not_leader_refusal_for_people_says_whom_to_ask(leader: str | None, says: str) -> None:
    # The reply a follower gives (docs/ctl.md): the leader sits beside "error", where
    # the human output once left it out. --json prints the reply as it is.
    reply = {
        "ok": False,
        "error": {"code": "not_leader", "message": "ask the leader (see ctl status)"},
        "leader": leader,
    }
    line = _human("revoke", reply)
    assert line.startswith("error [not_leader]: ask the leader (see ctl status): "), line
    assert says in line
    # Other refusals are as before: their code and words.
    other = {"ok": False, "error": {"code": "not_found", "message": "t9 is not enrolled"}}
    assert _human("revoke", other) == "error [not_found]: t9 is not enrolled"


def test_status_for_people_says_when_no_leader_is_known() -> None:
    # A device cut off from its site: "leader None" was Python's word, not a person's.
    reply = {
        "ok": True, "node": "n2", "role": "pre_candidate", "leader": None, "term": 5,
        "dot": "cut_off", "applied_index": 40, "commit_index": 40, "state_hash": "ab" * 16,
    }  # fmt: skip
    line = _human("status", reply)
    assert "leader not known right now" in line and "None" not in line, line
    assert "leader n1," in _human("status", {**reply, "leader": "n1"})


def test_an_enrolment_code_for_people_is_a_line_with_what_to_do() -> None:
    reply = {"ok": True, "code": "7KQ2-M9XD", "expires_ms": 1795466898732, "ttl_s": 600}
    line = _human("enrol-code", reply)
    assert line.startswith("enrolment code 7KQ2-M9XD: valid once, for 600 s"), line
    assert "--enrol" in line and "{" not in line
