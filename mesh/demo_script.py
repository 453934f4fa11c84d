"""``tablemesh demo --script dinner-rush``: a headless evening, narrated, then checked.

Starts a fresh site (the reference cloud and five headless nodes) in
``DATA/rush-<time>``, drives it through the client API the apps use (opens,
adds, fires, pays, bumps), cuts the internet for what stands for ten minutes of
service (compressed to seconds), kill -9s the leader in the middle of it and
brings it back, restores the internet, closes the night, and then checks what
the design promises:

1. every check has a real number, exactly once, and the cloud agrees;
2. every fired item is on exactly one station ticket and one expo ticket;
3. every node ends at one applied index and one state hash;
4. every acknowledged check is there, closed, with nothing due.

Exit 0 when every check holds, 1 when one fails, 2 when the evening could not
be driven at all (a step timed out). Every process is stopped by pid at the end.
Nothing here reads the ledger's internals: only what ``ctl`` and the cloud's
HTTP API show, so the run is also a test of those contracts.
"""

from __future__ import annotations

import random
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.client.api import ClientError
from mesh.demo import _node_dirs, prepare_cloud, prepare_site
from mesh.demo_site import DemoSite, Device
from mesh.sync.probe import CloudReadError, cloud_checks

SCRIPTS = ("dinner-rush",)
OUTAGE_S = 10.0  # s of real time standing for ten minutes without the internet
SUBMIT_DEADLINE_S = 20.0  # s one command may take, retries through a failover included
SUBMIT_WAIT_S = 3.0  # s each attempt waits to be acknowledged before retrying (same id)
SETTLE_S = 30.0  # s for numbering, the backlog and the replicas to settle
SEED = 7  # the evening's orders are the same on every run
FAILED_EXIT = 1
ABORTED_EXIT = 2

MENU = {  # what the script orders, by course: mains carry a temperature
    1: ["wings", "calamari", "caesar", "burrata", "fries", "ipa", "wine", "soda"],
    2: ["ribeye", "burger", "salmon", "chicken"],
    3: ["cake", "sundae"],
}
TEMPS = ["mod-rare", "mod-mrare", "mod-medium", "mod-well"]


class ScriptAborted(Exception):
    """The evening could not go on (a device never answered, a step timed out)."""


@dataclass
class Evening:
    site: DemoSite
    rng: random.Random
    run: str = field(default_factory=lambda: secrets.token_hex(3))
    commands: int = 0
    retried: int = 0
    acknowledged_checks: list[str] = field(default_factory=list)
    tables: dict[str, str] = field(default_factory=dict)  # check -> table
    fired: set[tuple[str, str]] = field(default_factory=set)  # (check, line)
    facts: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    # -- narration -------------------------------------------------------------
    def say(self, clock: str, text: str) -> None:
        print(f"{clock:>5}  {text}", flush=True)

    # -- the client side -------------------------------------------------------
    def alive(self) -> list[str]:
        return [n for n, d in self.site.devices.items() if d.alive]

    def submit(self, command: dict[str, Any], via: str) -> dict[str, Any]:
        """Submit until acknowledged or refused by the ledger, retrying with the same id.

        A retry goes to the same device first, then to any live one: the id makes
        it apply at most once whichever device carries it.
        """
        self.commands += 1
        command = {"id": f"rush-{self.run}-{self.commands:04d}", **command}
        deadline = time.monotonic() + SUBMIT_DEADLINE_S
        attempts = 0
        last: Any = None
        while time.monotonic() < deadline:
            for name in [via, *(n for n in self.alive() if n != via)]:
                if not self.site.devices[name].alive:
                    continue
                attempts += 1
                try:
                    reply = self.site.client(name, timeout=SUBMIT_WAIT_S + 5).submit(
                        command, timeout=SUBMIT_WAIT_S
                    )
                except ClientError as exc:
                    last = str(exc)
                    continue
                if reply.get("ok") or "index" in reply:
                    self.retried += attempts > 1
                    return reply
                last = reply.get("error")
                break  # not acknowledged: give the mesh a moment, then the same id again
            time.sleep(0.2)
        raise ScriptAborted(
            f"{command['type']} was not acknowledged in {SUBMIT_DEADLINE_S:g} s: {last}"
        )

    def must(self, command: dict[str, Any], via: str) -> dict[str, Any]:
        reply = self.submit(command, via)
        if not reply.get("ok"):
            raise ScriptAborted(f"{command['type']} refused: {reply.get('error')}")
        result: dict[str, Any] = reply["outcome"]
        return result

    def read(self, op: str, **args: Any) -> dict[str, Any]:
        """A read from the leader (or any live device while there is none)."""
        deadline = time.monotonic() + SUBMIT_DEADLINE_S
        while time.monotonic() < deadline:
            leader = self.site.leader()
            for name in [leader] if leader else self.alive():
                try:
                    reply = self.site.client(name, timeout=5).call(op, **args)
                except ClientError:
                    continue
                if reply.get("ok"):
                    return reply
            time.sleep(0.2)
        raise ScriptAborted(f"no device answered {op}")

    def wait(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.2)
        raise ScriptAborted(f"timed out after {timeout:g} s waiting for {what}")

    # -- what servers and cooks do ---------------------------------------------
    def seat(self, table: str, guests: int, server: str, via: str) -> str:
        check = str(
            self.must({"type": "open_check", "by": server, "table": table, "guests": guests}, via)[
                "check"
            ]
        )
        self.acknowledged_checks.append(check)
        self.tables[check] = table
        return check

    def order(self, check: str, server: str, course: int, guests: int, via: str) -> list[str]:
        items = []
        for seat in range(1, guests + 1):
            item = self.rng.choice(MENU[course])
            entry: dict[str, Any] = {"item": item, "seat": seat, "course": course}
            if item in ("ribeye", "burger"):
                entry["modifiers"] = [self.rng.choice(TEMPS)]
            items.append(entry)
        self.must({"type": "add_items", "by": server, "check": check, "items": items}, via)
        return [i["item"] for i in items]

    def fire(self, check: str, server: str, via: str) -> list[str]:
        result = self.must({"type": "fire", "by": server, "check": check}, via)
        for line in result.get("lines", []):
            self.fired.add((check, line))
        return list(result.get("tickets", []))

    def bump_all(self, via: str) -> int:
        tickets = self.read("tickets")["tickets"]
        for ticket in tickets:
            self.must({"type": "bump", "by": "k-dev", "ticket": ticket["id"]}, via)
        return len(tickets)

    def settle(self, check: str, server: str, via: str) -> int:
        found = self.read("checks", check=check)["check"]
        balance = int(found["totals"]["balance"])
        tip = balance // 10 // 100 * 100  # a round tenth
        tendered = (balance + tip + 999) // 1000 * 1000  # the next 10.00 note
        if balance > 0:
            self.must(
                {
                    "type": "pay",
                    "by": server,
                    "check": check,
                    "tender": "cash",
                    "tip": tip,
                    "tendered": tendered,
                },
                via,
            )
        self.must({"type": "close_check", "by": server, "check": check}, via)
        return balance


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def run_script(name: str, data_dir: Path, nodes: int) -> int:
    if name not in SCRIPTS:
        raise ValueError(f"no script {name!r}")
    root = (data_dir / f"rush-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    root.mkdir(parents=True, exist_ok=False)
    cloud = prepare_cloud(root, True)
    prepare_site(root, max(nodes, 3), cloud)
    site = DemoSite(root, [Device(name=d.name, data=d) for d in _node_dirs(root)], cloud)
    evening = Evening(site, random.Random(SEED))

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM too: unwind, so every process is stopped

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        print(f"dinner rush: a fresh site in {root}", flush=True)
        site.start_cloud()
        for device in site.devices.values():
            site.start(device.name, wait=False)
        for device in site.devices.values():
            site.wait_ready(device.name)
        dinner_rush(evening)
        failures = check_invariants(evening)
    except ScriptAborted as exc:
        print(f"\nABORTED: {exc}", flush=True)
        return ABORTED_EXIT
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        return ABORTED_EXIT
    finally:
        site.stop_all()
        for s, handler in old.items():
            signal.signal(s, handler)
    summary(evening, failures)
    return FAILED_EXIT if failures else 0


def dinner_rush(ev: Evening) -> None:
    site = ev.site
    names = list(site.devices)
    terminals = names[1:3] if len(names) >= 3 else names
    kitchen = names[3] if len(names) > 3 else names[-1]
    leader = ev.wait("a leader", site.leader, 30)
    ev.say("16:30", f"{len(names)} devices up; {leader} leads; the cloud is reachable")
    # The first leader commits the sample catalog; staff can act once it is applied.
    ev.wait("the catalog", lambda: _no_catalog_yet(ev, terminals[0]) is False, 30)
    for who in ("s-ana", "s-ben", "k-dev"):
        ev.must({"type": "clock_in", "by": who}, terminals[0])
    ev.say("16:45", "Eve, Ana, Ben and Dev clock in")

    # -- first seatings, online ------------------------------------------------
    seated: list[tuple[str, str, int]] = []  # (check, server, guests)
    for i, (table, guests) in enumerate([("1", 2), ("4", 4), ("7", 3), ("12", 2)]):
        server = ("s-ana", "s-ben")[i % 2]
        via = terminals[i % len(terminals)]
        check = ev.seat(table, guests, server, via)
        items = ev.order(check, server, 1, guests, via) + ev.order(check, server, 2, guests, via)
        tickets = ev.fire(check, server, via)
        seated.append((check, server, guests))
        ev.say(
            "18:0" + str(i * 2),
            f"table {table}: {server[2:].title()} opens {check} on {via}, "
            f"{len(items)} items fired -> tickets {', '.join(tickets)}",
        )
    numbered = ev.wait(
        "the first checks' numbers",
        lambda: all(c["number"] for c in ev.read("checks", all=True)["checks"]),
        SETTLE_S,
    )
    assert numbered
    numbers = sorted(c["number"] for c in ev.read("checks", all=True)["checks"])
    ev.say("18:10", f"online, each check got its real number within a second: {numbers}")
    bumped = ev.bump_all(kitchen)
    ev.say("18:40", f"Dev bumps {bumped} tickets on {kitchen}")
    for check, server, _ in seated[:2]:
        ev.settle(check, server, terminals[0])
    ev.say(
        "19:20",
        f"tables {ev.tables[seated[0][0]]} and {ev.tables[seated[1][0]]} pay cash and leave",
    )

    # -- the internet drops ------------------------------------------------------
    site.stop_cloud()
    outage_started = time.monotonic()
    ev.wait("the leader to see the cloud down", lambda: _leader_cloud(ev) == "down", 15)
    ev.say(
        "19:30",
        f"THE INTERNET DROPS (cloud stopped); dots turn red; ~10 minutes of "
        f"service follow, compressed into {OUTAGE_S:g} s",
    )
    refused = ev.submit(
        {"type": "pay", "by": "s-ana", "check": seated[2][0], "tender": "card"}, terminals[0]
    )
    code = (refused.get("error") or {}).get("code")
    ev.facts["card_offline"] = code
    ev.say("19:31", f"a card payment is refused at once ({code}): the server takes cash instead")
    ev.settle(seated[2][0], seated[2][1], terminals[0])
    offline: list[tuple[str, str, int]] = []
    for i, (table, guests) in enumerate([("2", 2), ("9", 5)]):
        server = ("s-ben", "s-ana")[i % 2]
        via = terminals[(i + 1) % len(terminals)]
        check = ev.seat(table, guests, server, via)
        ev.order(check, server, 1, guests, via)
        ev.order(check, server, 2, guests, via)
        tickets = ev.fire(check, server, via)
        offline.append((check, server, guests))
        ev.say(
            f"19:3{2 + i}",
            f"table {table} seated offline: {check} on {via}, fired -> "
            f"{', '.join(tickets)} (no number yet)",
        )

    # -- the leader dies mid-service ---------------------------------------------
    old_leader = ev.wait("a leader", site.leader, 15)
    pid = site.kill(old_leader)
    killed_at = time.monotonic()
    ev.say("19:35", f"kill -9 the leader {old_leader} (pid {pid}) in the middle of service")
    via = next(t for t in terminals if t != old_leader) if old_leader in terminals else terminals[0]
    check = ev.seat("15", 4, "s-ana", via)
    failover = time.monotonic() - killed_at
    ev.facts["failover_s"] = failover
    new_leader = ev.wait("a new leader", site.leader, 15)
    ev.order(check, "s-ana", 1, 4, via)
    tickets = ev.fire(check, "s-ana", via)
    offline.append((check, "s-ana", 4))
    ev.say(
        "19:36",
        f"{new_leader} took over; the next order was acknowledged {failover:.1f} s "
        f"after the kill: table 15 opens {check}, fired -> {', '.join(tickets)}",
    )
    for check, server, guests in offline[:2]:
        ev.order(check, server, 3, guests, via)
        ev.fire(check, server, via)
    ev.say("19:37", "desserts fired on tables 2 and 9 with the old leader still dead")
    time.sleep(max(0.0, OUTAGE_S / 2 - (time.monotonic() - outage_started)))
    site.restart(old_leader)
    ev.say("19:38", f"{old_leader} is powered back on and catches up from {new_leader}")
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
    status = site.status(new_leader) or {}
    backlog = (status.get("cloud") or {}).get("backlog")
    unnumbered = sum(1 for c in ev.read("checks", all=True)["checks"] if not c["number"])
    ev.facts["backlog_peak"] = backlog
    ev.say(
        "19:39",
        f"still offline: {unnumbered} checks without a number, "
        f"{backlog} records waiting for the cloud",
    )

    # -- the internet returns --------------------------------------------------------
    site.start_cloud()
    back = time.monotonic()
    ev.wait("every check numbered and nothing left to sync", lambda: _synced(ev), SETTLE_S)
    ev.facts["catch_up_s"] = time.monotonic() - back
    ev.say(
        "19:40",
        f"THE INTERNET RETURNS: the backlog is uploaded and every check numbered "
        f"in {ev.facts['catch_up_s']:.1f} s; dots back to green",
    )

    # -- closing time ------------------------------------------------------------------
    bumped = ev.bump_all(kitchen)
    ev.say("21:30", f"the kitchen bumps the last {bumped} tickets")
    for check, server, _ in [seated[3], *offline]:
        ev.settle(check, server, terminals[-1])
    ev.say("22:15", "the last tables pay cash and leave")
    for who in ("s-ana", "s-ben", "k-dev", "m-eve"):
        ev.must({"type": "clock_out", "by": who}, terminals[-1])
    ev.wait("the closed checks to reach the cloud", lambda: _synced(ev), SETTLE_S)
    ev.say("22:30", "everyone clocks out; the night is in the cloud")


def _no_catalog_yet(ev: Evening, via: str) -> bool:
    reply = ev.submit({"type": "clock_in", "by": "m-eve"}, via)
    return not reply.get("ok") and (reply.get("error") or {}).get("code") == "no_catalog"


def _leader_cloud(ev: Evening) -> str | None:
    leader = ev.site.leader()
    status = ev.site.status(leader) if leader else None
    return (status.get("cloud") or {}).get("cloud") if status else None


def _synced(ev: Evening) -> bool:
    leader = ev.site.leader()
    status = ev.site.status(leader) if leader else None
    if not status or (status.get("cloud") or {}).get("backlog") != 0:
        return False
    return all(c["number"] for c in ev.read("checks", all=True)["checks"])


def check_invariants(ev: Evening) -> list[str]:
    """What must hold after the evening; one message per failure."""
    failures: list[str] = []
    site = ev.site

    # Every replica at one state: wait (bounded) for the followers to apply the last entries.
    def one_state() -> dict[str, tuple[int, str]] | None:
        seen = {n: s for n, s in site.statuses().items()}
        states = {
            n: (int(s["applied_index"]), str(s["state_hash"]))
            for n, s in seen.items()
            if s is not None
        }
        ok = len(states) == len(site.devices) and len(set(states.values())) == 1
        return states if ok else None

    try:
        states = ev.wait("every node at one state hash", one_state, SETTLE_S)
        index, digest = next(iter(states.values()))
        ev.facts["state"] = f"{len(states)} nodes at index {index}, hash {digest[:12]}"
    except ScriptAborted as exc:
        failures.append(f"nodes disagree: {exc}: {site.statuses()}")

    checks = ev.read("checks", all=True)["checks"]
    ids = [c["id"] for c in checks]
    numbers = [c["number"] for c in checks]
    ev.facts["checks"] = len(checks)
    ev.facts["numbers"] = (
        (min(n for n in numbers if n), max(n for n in numbers if n)) if any(numbers) else None
    )
    if missing := [c for c in ev.acknowledged_checks if c not in ids]:
        failures.append(f"acknowledged checks lost: {missing}")
    if unnumbered := [c["id"] for c in checks if not c["number"]]:
        failures.append(f"checks without a number: {unnumbered}")
    if dup := [n for n, k in Counter(numbers).items() if n and k > 1]:
        failures.append(f"numbers given to more than one check: {dup}")
    if still_open := [c["id"] for c in checks if c["status"] != "closed" or c["balance"]]:
        failures.append(f"checks still open or with money due: {still_open}")
    failures += _cloud_agrees(ev, {c["id"]: c["number"] for c in checks})

    # Every fired line on exactly one station ticket and one expo ticket, nothing else.
    tickets = ev.read("tickets", include_bumped=True)["tickets"]
    on_station: Counter[tuple[str, str]] = Counter()
    on_expo: Counter[tuple[str, str]] = Counter()
    for ticket in tickets:
        counter = on_expo if ticket["station"] == "expo" else on_station
        for item in ticket["items"]:
            counter[(ticket["check"], item["line"])] += 1
    ev.facts["tickets"] = len(tickets)
    ev.facts["fired"] = len(ev.fired)
    if wrong := sorted(k for k in ev.fired if on_station[k] != 1 or on_expo[k] != 1):
        failures.append(f"fired lines not on exactly one station and one expo ticket: {wrong}")
    if stray := sorted((set(on_station) | set(on_expo)) - ev.fired):
        failures.append(f"ticket items that were never fired: {stray}")
    if open_tickets := [t["id"] for t in tickets if t["status"] != "bumped"]:
        failures.append(f"tickets never bumped: {open_tickets}")
    return failures


def _cloud_agrees(ev: Evening, mesh_numbers: dict[str, int | None]) -> list[str]:
    cloud = ev.site.cloud
    if cloud is None:
        return ["the site has no cloud to check against"]
    try:
        stored = cloud_checks(cloud["url"], cloud["token"], limit=1000)
    except CloudReadError as exc:
        return [f"the cloud's checks could not be read: {exc}"]
    temp_ids = Counter(c["temp_id"] for c in stored)
    failures = []
    if dup := [t for t, k in temp_ids.items() if k > 1]:
        failures.append(f"the cloud holds a check twice: {dup}")
    cloud_numbers = {c["temp_id"]: c["number"] for c in stored}
    if cloud_numbers != mesh_numbers:
        failures.append(
            f"the cloud and the mesh disagree on numbers: cloud {cloud_numbers}, "
            f"mesh {mesh_numbers}"
        )
    return failures


def summary(ev: Evening, failures: list[str]) -> None:
    f = ev.facts
    took = time.monotonic() - ev.started
    print("\nthe night in numbers", flush=True)
    print(
        f"  {f.get('checks')} checks, numbers {f.get('numbers')}; {f.get('fired')} items fired "
        f"on {f.get('tickets')} tickets; {ev.commands} commands, {ev.retried} needed a retry"
    )
    print(
        f"  card offline: refused with {f.get('card_offline')!r}; leader failover: the next "
        f"order acknowledged {f.get('failover_s', 0):.1f} s after kill -9"
    )
    print(
        f"  outage backlog: {f.get('backlog_peak')} records, uploaded "
        f"{f.get('catch_up_s', 0):.1f} s after the cloud returned"
    )
    print(f"  replicas: {f.get('state')}; the run took {took:.0f} s")
    names = [
        "every check numbered exactly once (the cloud agrees)",
        "every fired item on one station ticket and one expo ticket",
        "all nodes at one state hash",
        "every acknowledged check there, closed, nothing due",
    ]
    if failures:
        print("\nFAILED:")
        for failure in failures:
            print(f"  - {failure}")
    else:
        for i, name in enumerate(names, 1):
            print(f"  check {i}: {name}: ok")
        print("\nall invariants hold", flush=True)
