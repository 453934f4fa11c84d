"""The site's device roster as replicated records: today, which device keys are revoked.

A revocation must hold on every node and survive restarts, compaction and a
new leader, so it is a record in the Raft log like a sale, not a line in one
node's ``node.json``. The records are the node's, not the restaurant's: the
ledger never sees them (``Replica`` applies them here, before the ledger), and
they travel inside the snapshot beside the ledger's state.

A record is ``RECORD_PREFIX`` + canonical JSON. The prefix starts with a NUL
byte, which no ledger payload (a JSON object) can, so the two never mix.

Rules:
- ``revoke``: ``{"op": "revoke", "node": id, "key": public key}``. From the
  index it is applied at, every node drops that key from its ZAP allowlist and
  stops sending to the device; the leader removes it from the Raft configuration.
  Revoking names the key, so a device re-enrolled later with a new key is a new
  enrolment, not an undo.
- Applying is deterministic and idempotent (a record applied twice changes nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

RECORD_PREFIX = b"\x00tablemesh-roster\x00"
OPS = frozenset({"revoke"})


def encode_record(record: dict[str, Any]) -> bytes:
    if record.get("op") not in OPS:
        raise ValueError(f"unknown roster op {record.get('op')!r}")
    body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return RECORD_PREFIX + body


def is_record(data: bytes) -> bool:
    return data.startswith(RECORD_PREFIX)


def decode_record(data: bytes) -> dict[str, Any] | None:
    """The record in an entry's data; None if it is not one, or is malformed (then skipped
    alike on every node)."""
    if not is_record(data):
        return None
    try:
        body = json.loads(data[len(RECORD_PREFIX) :])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(body, dict) or body.get("op") not in OPS:
        return None
    if not isinstance(body.get("node"), str) or not isinstance(body.get("key"), str):
        return None
    return body


@dataclass
class Roster:
    revoked: dict[str, str] = field(default_factory=dict)  # node id -> its revoked public key

    def apply(self, record: dict[str, Any]) -> bool:
        """Apply one decoded record; True if anything changed."""
        if record["op"] == "revoke":
            if self.revoked.get(record["node"]) == record["key"]:
                return False
            self.revoked[record["node"]] = record["key"]
            return True
        return False

    def is_revoked(self, node: str, key: str) -> bool:
        return self.revoked.get(node) == key

    def to_json(self) -> dict[str, Any]:
        return {"revoked": dict(sorted(self.revoked.items()))}

    @classmethod
    def from_json(cls, data: Any) -> Roster:
        if not isinstance(data, dict) or not isinstance(data.get("revoked", {}), dict):
            raise ValueError("malformed roster")
        return cls(revoked={str(k): str(v) for k, v in data.get("revoked", {}).items()})
