"""What ``apply`` takes (a committed entry) and gives back (an outcome).

The leader stamps each command with its clock (integer ms since the epoch, UTC)
before proposing it; the stamp travels inside the Raft entry's data, encoded by
``encode_payload``. Every node decodes the same bytes with ``decode_payload``
and so applies the same command at the same time. The payload also carries the
token of the submit that wrote it (its ``writer``), which no rule reads: it lets
the node of that submit tell its own entry from a replay's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mesh.ledger.errors import LedgerError


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One committed command: its log position and the leader's time stamp."""

    index: int
    time_ms: int
    command: Any  # the JSON-able command dict, validated inside apply
    term: int = 0
    writer: str | None = None  # the token of the submit that wrote it, if named


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What applying one entry did: ``result`` when accepted, ``error`` when rejected."""

    command_id: str | None
    index: int
    ok: bool
    result: dict[str, Any] = field(default_factory=dict)
    error: LedgerError | None = None
    duplicate: bool = False  # the id was seen before; this is the first outcome again

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.command_id, "index": self.index, "ok": self.ok}
        if self.ok:
            out["result"] = self.result
        else:
            assert self.error is not None
            out["error"] = self.error.to_dict()
        if self.duplicate:
            out["duplicate"] = True
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, duplicate: bool = False) -> Outcome:
        error = raw.get("error")
        return cls(
            command_id=raw["id"],
            index=raw["index"],
            ok=raw["ok"],
            result=raw.get("result", {}),
            error=LedgerError(code=error["code"], message=error["message"]) if error else None,
            duplicate=duplicate,
        )


# One encoder for every payload: ``json.dumps`` with options builds a new one per call,
# a third of the cost of encoding a small command.
_PAYLOAD_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode_payload(time_ms: int, command: dict[str, Any], writer: str | None = None) -> bytes:
    """The bytes the leader proposes for ``command`` stamped at ``time_ms``, written
    for the submit whose token is ``writer``."""
    body: dict[str, Any] = {"t": time_ms, "c": command}
    if writer is not None:
        body["w"] = writer
    return _PAYLOAD_ENCODER.encode(body).encode()


def decode_payload(data: bytes, *, index: int, term: int = 0) -> LedgerEntry:
    """The entry for a committed Raft entry's data (raises ``ValueError`` if not ours)."""
    body = json.loads(data)
    if not isinstance(body, dict) or not isinstance(body.get("t"), int) or "c" not in body:
        raise ValueError("not a ledger payload")
    writer = body.get("w")
    return LedgerEntry(
        index=index,
        term=term,
        time_ms=body["t"],
        command=body["c"],
        writer=writer if isinstance(writer, str) else None,
    )
