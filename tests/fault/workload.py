"""Client threads that run a restaurant against the site and record every operation.

Each client is a server (or the kitchen) at a terminal: it talks to its home
node's control socket and, when that node does not answer, walks to the next
one, retrying with the same command id (so a command is applied at most once
whatever happens to the first attempt). Clients share the pool of open checks:
a check opened on one terminal is continued on another.

What makes duplicates and losses visible in the final state:

- every ``add_items`` line carries ``<command id>#<item>`` in its note;
- every ``pay`` carries a tip unique in the run, so a payment names its command;
- a client makes its own temporary check IDs (prefix ``Z`` + client), so an
  ``open_check`` retried on another node still opens the same check;
- now and then a client resends an old acknowledged command (a terminal's outbox
  after reconnecting), recorded as a ``replay``: it must answer the first outcome.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh.client.api import ClientError, ControlClient
from mesh.ledger.check_ids import ALPHABET, make_temp_id
from mesh.ledger.money import exclusive_tax
from mesh.ledger.sample_catalog import sample_catalog
from tests.fault.history import FAIL, OK, UNKNOWN, History, Op

SUBMIT_TIMEOUT_S = 2.0  # what a node may take to acknowledge one attempt
SOCKET_TIMEOUT_S = 3.0
OP_BUDGET_S = 10.0  # an operation retries (same id) for at most this long, then is unknown
MAX_ATTEMPTS = 6
MAX_OPS_PER_CLIENT = 5000
OUTBOX = 300  # acknowledged commands a client remembers, for late resends
LATE_RESEND = 0.03  # share of steps that resend an old acknowledged command (same id)
DEFINITE = {"invalid", "forbidden"}  # refused before any proposal: never applied

CATALOG = sample_catalog()
MENU = ["burger", "fries", "caesar", "ipa", "soda", "wings", "salmon", "cake", "wine"]


def contribution(orders: list[dict[str, Any]]) -> int:
    """What ``orders`` add to a check's total (prices, modifiers, exclusive tax per line)."""
    total = 0
    for order in orders:
        item = CATALOG["items"][order["item"]]
        unit = item["price"] + sum(CATALOG["modifiers"][m]["price"] for m in order["modifiers"])
        amount = unit * order["qty"]
        tax = CATALOG["taxes"].get(item["tax"]) if item.get("tax") else None
        if tax is not None and not tax["inclusive"]:
            amount += exclusive_tax(amount, tax["rate_bp"])
        total += amount
    return total


@dataclass(slots=True)
class Pool:
    """The checks the clients share."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    open: dict[str, int] = field(default_factory=dict)  # check -> unfired adds (a guess)
    settling: set[str] = field(default_factory=set)

    def pick(self, rng: random.Random) -> str | None:
        with self.lock:
            candidates = sorted(c for c in self.open if c not in self.settling)
        return rng.choice(candidates) if candidates else None


class Client(threading.Thread):
    def __init__(
        self,
        index: int,
        seed: int,
        nodes: list[str],
        data: Callable[[str], Path],
        history: History,
        pool: Pool,
        tips: itertools.count[int],
        stop: threading.Event,
        replay: threading.Event,
    ) -> None:
        super().__init__(name=f"client-{index}", daemon=True)
        self.index = index
        self.name_ = f"c{index}"
        self.rng = random.Random(f"client-{seed}-{index}")
        self.nodes = nodes
        self.home = index % len(nodes)
        self.data = data
        self.history, self.pool, self.tips = history, pool, tips
        self.stop, self.replay = stop, replay
        self.prefix = "Z" + ALPHABET[index % 32]
        self.counter = 0
        self.staff = ["s-ana", "s-ben", "b-cleo"][index % 3]
        self.kitchen = index % 3 == 2  # some clients are kitchen screens that bump
        self.outbox: list[tuple[dict[str, Any], Op]] = []  # recently acknowledged commands

    # -- one operation, with retries ------------------------------------------------
    def _order(self, attempt: int) -> str:
        return self.nodes[(self.home + attempt) % len(self.nodes)]

    def execute(self, kind: str, command: dict[str, Any], value: dict[str, Any]) -> Op:
        command = {"id": f"{self.name_}-{self.rng.getrandbits(48):012x}", **command}
        op = self.history.invoke(
            client=self.name_,
            kind=kind,
            cid=command["id"],
            check=command.get("check"),
            node=self._order(0),
            value=value,
        )
        deadline = time.monotonic() + OP_BUDGET_S
        last_reply: dict[str, Any] | None = None
        last_error = "no attempt"
        for attempt in range(MAX_ATTEMPTS):
            if time.monotonic() > deadline:
                break
            node = self._order(attempt)
            op.attempts += 1
            op.via.append(node)
            try:
                reply = ControlClient(self.data(node), timeout=SOCKET_TIMEOUT_S).submit(
                    command, timeout=SUBMIT_TIMEOUT_S
                )
            except ClientError as exc:
                last_error = f"unreachable: {str(exc)[:80]}"
                time.sleep(0.1)
                continue
            if reply.get("ok"):
                self.history.settle(op, OK, reply, None)
                self.outbox.append((command, op))
                del self.outbox[:-OUTBOX]
                if self.replay.is_set():
                    self._replay(command, op)
                return op
            code = str((reply.get("error") or {}).get("code"))
            if "index" in reply or code in DEFINITE:
                self.history.settle(op, FAIL, reply, code)
                return op
            last_reply, last_error = reply, code
            time.sleep(0.05)
        self.history.settle(op, UNKNOWN, last_reply, last_error)
        self.home = (self.home + 1) % len(self.nodes)  # walk to another terminal
        return op

    def _replay(self, command: dict[str, Any], first: Op) -> None:
        """Send an acknowledged command again through another node: it must be a duplicate."""
        node = self._order(self.rng.randrange(1, len(self.nodes)) if len(self.nodes) > 1 else 0)
        op = self.history.invoke(
            client=self.name_,
            kind="replay",
            cid=first.cid,
            check=first.check,
            node=node,
            value={"of": first.seq},
        )
        op.attempts, op.via = 1, [node]
        try:
            reply = ControlClient(self.data(node), timeout=SOCKET_TIMEOUT_S).submit(
                command, timeout=SUBMIT_TIMEOUT_S
            )
        except ClientError as exc:
            self.history.settle(op, UNKNOWN, None, f"unreachable: {str(exc)[:80]}")
            return
        result = OK if reply.get("ok") or "index" in reply else UNKNOWN
        self.history.settle(op, result, reply, None if result == OK else str(reply.get("error")))

    # -- the restaurant --------------------------------------------------------------
    def open_check(self) -> None:
        self.counter += 1
        check = make_temp_id(self.prefix, self.counter)
        cmd = {
            "type": "open_check",
            "by": self.staff,
            "check": check,
            "table": str(self.rng.randint(1, 40)),
            "guests": self.rng.randint(1, 6),
        }
        op = self.execute("open_check", cmd, {})
        if op.result != FAIL:  # an unknown open may have happened: keep using it
            with self.pool.lock:
                self.pool.open[check] = 0

    def add_items(self, check: str) -> None:
        orders = []
        for _ in range(self.rng.randint(1, 2)):
            item = self.rng.choice(MENU)
            allowed = CATALOG["items"][item]["modifiers"]
            mods = sorted(self.rng.sample(allowed, min(len(allowed), self.rng.randint(0, 1))))
            orders.append({"item": item, "qty": self.rng.randint(1, 2), "modifiers": mods})
        seq = self.rng.getrandbits(32)
        cid = f"{self.name_}-a{seq:08x}"
        notes = [f"{cid}#{j}" for j in range(len(orders))]
        items = [{**o, "note": note} for o, note in zip(orders, notes, strict=True)]
        cmd = {"id": cid, "type": "add_items", "by": self.staff, "check": check, "items": items}
        op = self.execute("add_items", cmd, {"notes": notes, "amount": contribution(orders)})
        if op.result == FAIL and op.error == "check_closed":
            self._forget(check)
        elif op.result == OK:
            with self.pool.lock:
                if check in self.pool.open:
                    self.pool.open[check] += 1

    def fire(self, check: str) -> None:
        op = self.execute("fire", {"type": "fire", "by": self.staff, "check": check}, {})
        if op.result == FAIL and op.error == "check_closed":
            self._forget(check)

    def pay(self, check: str, amount: int | None) -> Op:
        tip = next(self.tips)
        cmd: dict[str, Any] = {
            "type": "pay",
            "by": self.staff,
            "check": check,
            "tender": "cash",
            "tip": tip,
        }
        if amount is not None:
            cmd["amount"] = amount
        return self.execute("pay", cmd, {"amount": amount, "tip": tip})

    def settle(self, check: str) -> None:
        """Pay what is due and close: the end of a check's life."""
        with self.pool.lock:
            if check in self.pool.settling:
                return
            self.pool.settling.add(check)
        try:
            self.pay(check, None)
            op = self.execute(
                "close_check", {"type": "close_check", "by": self.staff, "check": check}, {}
            )
            if op.result == OK or op.error == "check_closed":
                self._forget(check)
        finally:
            with self.pool.lock:
                self.pool.settling.discard(check)

    def bump(self) -> None:
        node = self.nodes[self.home]
        try:
            reply = ControlClient(self.data(node), timeout=SOCKET_TIMEOUT_S).tickets()
        except ClientError:
            return
        tickets = [t["id"] for t in reply.get("tickets", []) if t.get("status") == "open"]
        if not tickets:
            return
        ticket = self.rng.choice(sorted(tickets))
        self.execute("bump", {"type": "bump", "by": "k-dev", "ticket": ticket}, {"ticket": ticket})

    def _forget(self, check: str) -> None:
        with self.pool.lock:
            self.pool.open.pop(check, None)

    def step(self) -> None:
        if self.outbox and self.rng.random() < LATE_RESEND:
            # A terminal that comes back online resends what its outbox still holds:
            # an old id must answer its first outcome, however long ago that was.
            command, first = self.rng.choice(self.outbox)
            self._replay(command, first)
            return
        r = self.rng.random()
        with self.pool.lock:
            n_open = len(self.pool.open)
        if self.kitchen and r < 0.35:
            self.bump()
            return
        if n_open < 3 or (n_open < 12 and r < 0.12):
            self.open_check()
            return
        check = self.pool.pick(self.rng)
        if check is None:
            self.open_check()
            return
        r = self.rng.random()
        if r < 0.55:
            self.add_items(check)
        elif r < 0.72:
            self.fire(check)
        elif r < 0.87:
            self.pay(check, self.rng.choice([100, 250, 500]))
        else:
            self.settle(check)

    def run(self) -> None:
        for _ in range(MAX_OPS_PER_CLIENT):
            if self.stop.is_set():
                return
            self.step()
            time.sleep(self.rng.uniform(0.0, 0.05))
