"""The recorded history of a run: one record per client operation, with monotonic times.

An operation is invoked once and ends in exactly one of three results:

- ``ok``: the node acknowledged it (committed on a majority and applied);
- ``fail``: a definite refusal (the ledger said no at a log index, or the command
  was refused before it could be proposed): it must never be applied;
- ``unknown``: no definite answer (timeouts, no quorum, a node that died mid-call):
  it may be applied once, or not at all.

Retries of an operation reuse its command id, so they are one operation here:
``invoke`` is the first attempt, ``complete`` the answer that settled it (None
for ``unknown``: it may take effect at any time after ``invoke``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK, FAIL, UNKNOWN = "ok", "fail", "unknown"
RESULTS = (OK, FAIL, UNKNOWN)


@dataclass(slots=True)
class Op:
    """One client operation. ``kind`` is the command type, or ``read`` for a final read."""

    seq: int
    client: str
    kind: str
    cid: str
    check: str | None
    node: str  # the node the first attempt went to
    invoke: float  # monotonic seconds since the run started
    complete: float | None = None
    result: str = UNKNOWN
    value: dict[str, Any] = field(default_factory=dict)  # what the op sent that the checker needs
    reply: dict[str, Any] = field(default_factory=dict)  # the settling reply (trimmed)
    error: str | None = None
    attempts: int = 0
    via: list[str] = field(default_factory=list)  # every node an attempt went to

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Op:
        return cls(**raw)


class History:
    """A thread-safe list of operations; clients append, the checker reads."""

    def __init__(self, t0: float | None = None) -> None:
        self.t0 = time.monotonic() if t0 is None else t0
        self._lock = threading.Lock()
        self._ops: list[Op] = []
        self._seq = 0

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    def invoke(
        self,
        *,
        client: str,
        kind: str,
        cid: str,
        check: str | None,
        node: str,
        value: dict[str, Any] | None = None,
    ) -> Op:
        with self._lock:
            self._seq += 1
            op = Op(
                seq=self._seq,
                client=client,
                kind=kind,
                cid=cid,
                check=check,
                node=node,
                invoke=self.now(),
                value=dict(value or {}),
            )
            self._ops.append(op)
            return op

    def settle(self, op: Op, result: str, reply: dict[str, Any] | None, error: str | None) -> None:
        assert result in RESULTS
        with self._lock:
            op.result = result
            op.complete = None if result == UNKNOWN else self.now()
            op.reply = trim_reply(reply or {})
            op.error = error

    def next_seq(self) -> int:
        with self._lock:
            return self._seq + 1

    def ops(self) -> list[Op]:
        with self._lock:
            return list(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops())

    def counts(self) -> Counter[str]:
        return Counter(op.result for op in self.ops())

    def write_jsonl(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            for op in self.ops():
                fh.write(op.to_json() + "\n")


def read_jsonl(path: Path) -> list[Op]:
    return [Op.from_dict(json.loads(line)) for line in path.read_text().splitlines() if line]


def trim_reply(reply: dict[str, Any]) -> dict[str, Any]:
    """Keep what the checker reads from a reply (an outcome can carry big lists)."""
    keep: dict[str, Any] = {k: reply[k] for k in ("ok", "index", "duplicate") if k in reply}
    outcome = reply.get("outcome")
    if isinstance(outcome, dict):
        keep["outcome"] = {
            k: outcome[k]
            for k in (
                "check",
                "total",
                "balance",
                "amount",
                "tip",
                "payment",
                "lines",
                "tickets",
                "ticket",
                "status",
            )
            if k in outcome
        }
    error = reply.get("error")
    if isinstance(error, dict):
        keep["error"] = {"code": error.get("code"), "message": str(error.get("message"))[:200]}
    return keep


def by_check(ops: Iterable[Op]) -> dict[str, list[Op]]:
    out: dict[str, list[Op]] = {}
    for op in ops:
        if op.check is not None:
            out.setdefault(op.check, []).append(op)
    return out
