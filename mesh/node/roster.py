"""The site's device roster as replicated records: enrolment offers, enrolled and revoked keys.

Who may talk to the mesh must hold on every node and survive restarts,
compaction and a new leader, so it lives in records in the Raft log like a
sale, not in one node's ``node.json``. The records are the node's, not the
restaurant's: the ledger never sees them (``Replica`` applies them here, before
the ledger), and they travel inside the snapshot beside the ledger's state.
The devices written by ``site init`` (each node's ``node.json`` peers) are the
founding roster; records add and revoke on top of it.

A record is ``RECORD_PREFIX`` + canonical JSON. The prefix starts with a NUL
byte, which no ledger payload (a JSON object) can, so the two never mix.

Rules (each applied identically on every node; applying one twice changes nothing):
- ``offer`` ``{code, expires_ms}``: a manager made an enrolment code; ``code`` is
  its salted hash (``mesh.node.enrolment.code_hash``), never the code.
- ``enrol`` ``{code, node, key, role, address, at_ms[, prefix]}``: a device proved a
  code at the leader's time ``at_ms``. Accepted only if the offer exists, is unused
  and ``at_ms <= expires_ms``, the key was never revoked (under any name) and is no
  other enrolled device's, and the check ID ``prefix``
  the leader chose for it is no other enrolled device's; it then consumes the offer
  (single use, site-wide) and enrols the key under ``node``.
- ``revoke`` ``{node, key}``: the key is refused from now on, by every node. It
  names the key, so a device re-enrolled later with a new key is a new
  enrolment, not an undo.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

RECORD_PREFIX = b"\x00tablemesh-roster\x00"
_FIELDS: dict[str, dict[str, type]] = {
    "offer": {"code": str, "expires_ms": int},
    "enrol": {"code": str, "node": str, "key": str, "role": str, "address": str, "at_ms": int},
    "revoke": {"node": str, "key": str},
}
_OPTIONAL: dict[str, dict[str, type]] = {"enrol": {"prefix": str}}
OPS = frozenset(_FIELDS)


def _valid(record: Any) -> bool:
    if not isinstance(record, dict) or record.get("op") not in _FIELDS:
        return False
    fields = _FIELDS[record["op"]]
    optional = _OPTIONAL.get(record["op"], {})
    return all(
        isinstance(record.get(name), kind) and not isinstance(record.get(name), bool)
        for name, kind in fields.items()
    ) and all(isinstance(record[name], kind) for name, kind in optional.items() if name in record)


def encode_record(record: dict[str, Any]) -> bytes:
    if not _valid(record):
        raise ValueError(f"not a valid roster record: {record!r}")
    return RECORD_PREFIX + json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


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
    return body if _valid(body) else None


@dataclass
class Roster:
    revoked: dict[str, str] = field(default_factory=dict)  # node id -> its revoked public key
    offers: dict[str, dict[str, Any]] = field(default_factory=dict)  # code hash -> offer
    enrolled: dict[str, dict[str, str]] = field(default_factory=dict)  # node -> key/role/address
    retired: set[str] = field(default_factory=set)  # prefixes of replaced enrolments
    changes: int = field(default=0, compare=False)  # bumped by every change: the node notices

    def apply(self, record: dict[str, Any]) -> bool:
        """Apply one decoded record; True if anything changed."""
        op = record["op"]
        if op == "offer":
            if record["code"] in self.offers:
                return False
            self.offers[record["code"]] = {"expires_ms": record["expires_ms"], "used_by": None}
        elif op == "enrol":
            offer = self.offers.get(record["code"])
            if (
                offer is None
                or offer["used_by"] is not None
                or record["at_ms"] > offer["expires_ms"]
                or record["key"] in self.revoked.values()  # a revoked key, under any name
                or self._held_by_another(record["node"], record["key"])
                or ("prefix" in record and record["prefix"] in self.prefixes())
            ):
                return False
            offer["used_by"] = record["node"]
            replaced = self.enrolled.get(record["node"], {})
            if "prefix" in replaced:
                # A re-enrolled device (a new key) gets a new prefix; the old one
                # is on checks already and is never given out again.
                self.retired.add(replaced["prefix"])
            self.enrolled[record["node"]] = {
                "key": record["key"],
                "role": record["role"],
                "address": record["address"],
            }
            if "prefix" in record:
                self.enrolled[record["node"]]["prefix"] = record["prefix"]
        elif op == "revoke":
            if self.revoked.get(record["node"]) == record["key"]:
                return False
            self.revoked[record["node"]] = record["key"]
        else:
            return False
        self.changes += 1
        return True

    def prefixes(self) -> set[str]:
        """The check ID prefixes given to enrolled devices (the founding ones are in node.json)."""
        current = {entry["prefix"] for entry in self.enrolled.values() if "prefix" in entry}
        return current | self.retired

    def _held_by_another(self, node: str, key: str) -> bool:
        """One key, one device: ``key`` is already another enrolled device's."""
        return any(e["key"] == key for name, e in self.enrolled.items() if name != node)

    def is_revoked(self, node: str, key: str) -> bool:
        return self.revoked.get(node) == key

    def enrolled_with(self, node: str, key: str) -> bool:
        entry = self.enrolled.get(node)
        return entry is not None and entry["key"] == key and not self.is_revoked(node, key)

    def to_json(self) -> dict[str, Any]:
        return {
            "revoked": dict(sorted(self.revoked.items())),
            "offers": dict(sorted(self.offers.items())),
            "enrolled": dict(sorted(self.enrolled.items())),
            "retired": sorted(self.retired),
        }

    @classmethod
    def from_json(cls, data: Any) -> Roster:
        if not isinstance(data, dict):
            raise ValueError("malformed roster")
        try:
            return cls(
                revoked={str(k): str(v) for k, v in data.get("revoked", {}).items()},
                offers={str(k): dict(v) for k, v in data.get("offers", {}).items()},
                enrolled={str(k): dict(v) for k, v in data.get("enrolled", {}).items()},
                retired={str(p) for p in data.get("retired", [])},
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed roster: {exc}") from exc
