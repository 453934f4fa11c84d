"""The ledger's whole state, its canonical snapshot and its hash.

Everything a node needs to answer queries and to apply the next entry lives in
``LedgerState``: checks, tickets, time clock, business days, audit trail, what
the cloud has acknowledged, the catalog, and the table of recent command ids.

Snapshot encoding: JSON with sorted keys, no whitespace, UTF-8. It is canonical
(the same state always gives the same bytes, whatever order dicts were filled
in), readable by support staff, and needs no float handling because the
state holds none. ``state_hash`` is the SHA-256 of those bytes, so two nodes at
the same applied index have the same hash exactly when they hold the same state.

Dedup table: a command's outcome is kept until it is both older than
``DEDUP_WINDOW_MS`` (24 h) of stamped time and more than ``DEDUP_KEEP_ENTRIES``
log entries behind. The table is part of the snapshot, so a retry after a failover
or a restore still finds it. The client library gives up on (and asks the person
about) a command it could not get acknowledged within the window, so no retry can
arrive later. Time, because a burst of traffic must not push out the answer a slow
retry is waiting for; entries as well, because one entry stamped by a leader whose
clock jumped a day ahead must not make every node forget every id at once (a retry
seconds later would then be applied twice). Both bounds are the same on every node
by construction.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from typing import Any, Final

from mesh.ledger.business_day import business_day, business_day_number, day_name
from mesh.ledger.check_ids import is_valid_temp_id, normalize_temp_id
from mesh.ledger.records import (
    AuditRec,
    CheckRec,
    DayRec,
    SyncRec,
    TicketRec,
    TimeEntryRec,
)

SNAPSHOT_FORMAT: Final = 1
DEDUP_WINDOW_MS: Final = 24 * 3_600_000
DEDUP_KEEP_ENTRIES: Final = 50_000  # a busy day is about 20,000 commands


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def json_copy(value: Any) -> Any:
    """A deep copy made of JSON types only (tuples become lists, as after a restore).

    Every applied command's outcome is copied, on every node: a walk of plain dicts,
    lists and scalars costs a fifth of a JSON round trip (docs/benchmarks.md). Anything
    else (a key that is not a string, a subclass, a cycle) takes the round trip, which
    gives JSON's answer or its error.
    """
    try:
        return _tree_copy(value)
    except (_NotPlain, RecursionError):
        return json.loads(json.dumps(value))


class _NotPlain(Exception):
    """A value a JSON round trip would change or refuse (see ``json_copy``)."""


_SCALARS: Final = frozenset({str, int, bool, float, type(None)})


def _tree_copy(value: Any) -> Any:
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            out[key] = item if type(item) in _SCALARS else _tree_copy(item)
        return out
    if kind is list or kind is tuple:
        return [item if type(item) in _SCALARS else _tree_copy(item) for item in value]
    raise _NotPlain


class LedgerState:
    """One node's ledger. Mutated only by ``mesh.ledger.apply.apply``."""

    def __init__(self) -> None:
        self.applied_index = 0
        self.applied_term = 0
        self.last_time_ms = 0
        self.catalog: dict[str, Any] | None = None
        self.eighty_six: dict[str, int] = {}  # item id -> stamped time it ran out
        self.checks: dict[str, CheckRec] = {}
        self.numbers: dict[str, str] = {}  # str(real number) -> temporary id
        self.tickets: dict[str, TicketRec] = {}
        self.time_entries: dict[str, TimeEntryRec] = {}
        self.on_clock: dict[str, str] = {}  # staff id -> open time entry id
        self.days: dict[str, DayRec] = {}
        self.audit: list[AuditRec] = []
        self.sync: dict[str, SyncRec] = {}
        self.seq: dict[str, int] = {"line": 0, "payment": 0, "ticket": 0, "time": 0, "audit": 0}
        self._dedup: dict[str, dict[str, Any]] = {}
        self._dedup_order: deque[tuple[int, int, str]] = deque()  # (time_ms, index, id)
        # (applied index, hash): the state only changes through apply, which moves the
        # index, so a busy day's 20 MB encoding is not redone for every status query.
        self._hash_at: tuple[int, str] | None = None

    # -- ids and lookups -------------------------------------------------------------

    def next_id(self, kind: str, prefix: str) -> str:
        self.seq[kind] += 1
        return f"{prefix}{self.seq[kind]}"

    def find_check(self, ref: str) -> CheckRec | None:
        """A check by temporary ID (as typed by a person, too) or by real number."""
        if ref.isascii() and ref.isdigit():
            temp = self.numbers.get(str(int(ref)))
            return self.checks.get(temp) if temp is not None else None
        check = self.checks.get(ref)
        if check is None:
            folded = normalize_temp_id(ref)
            if is_valid_temp_id(folded):
                check = self.checks.get(folded)
        return check

    def site(self) -> dict[str, Any]:
        return self.catalog["site"] if self.catalog else {}

    def business_day_of(self, time_ms: int) -> str:
        """The day a sale at ``time_ms`` belongs to.

        The day of its stamped time; but once that day has been closed, new
        business rolls into the day after the latest closed one (the manager closed
        the day early, at 23:30, and the last table pays at 23:45).
        """
        site = self.site()
        number = business_day_number(
            time_ms,
            utc_offset_minutes=int(site.get("utc_offset_minutes", 0)),
            day_start_hour=int(site.get("day_start_hour", 0)),
            offset_changes=site.get("offset_changes", []),
        )
        name = day_name(number)
        closed = [d for d, rec in self.days.items() if rec["status"] == "closed" and d >= name]
        if not closed:
            return name
        latest = max(closed)
        while day_name(number) <= latest:
            number += 1
        return day_name(number)

    def calendar_day_of(self, time_ms: int) -> str:
        site = self.site()
        return business_day(
            time_ms,
            utc_offset_minutes=int(site.get("utc_offset_minutes", 0)),
            day_start_hour=int(site.get("day_start_hour", 0)),
            offset_changes=site.get("offset_changes", []),
        )

    # -- sync bookkeeping --------------------------------------------------------------

    def touch(self, key: str, time_ms: int) -> None:
        """Record that ``key`` changed and must be uploaded again."""
        rec = self.sync.get(key)
        if rec is None:
            rec = {"version": 0, "synced_version": 0, "dirty_since": None}
            self.sync[key] = rec
        rec["version"] += 1
        if rec["dirty_since"] is None:
            rec["dirty_since"] = time_ms

    # -- dedup ------------------------------------------------------------------------

    def seen_outcome(self, command_id: str) -> dict[str, Any] | None:
        return self._dedup.get(command_id)

    def remember(self, command_id: str, time_ms: int, outcome: dict[str, Any], index: int) -> None:
        self._dedup[command_id] = outcome
        self._dedup_order.append((time_ms, index, command_id))

    def forget_before(self, time_ms: int, index: int) -> None:
        """Drop outcomes older than the window in time *and* in log entries."""
        horizon = time_ms - DEDUP_WINDOW_MS
        index_horizon = index - DEDUP_KEEP_ENTRIES
        order = self._dedup_order
        while order and order[0][0] < horizon and order[0][1] < index_horizon:
            _, _, cid = order.popleft()
            del self._dedup[cid]

    def dedup_size(self) -> int:
        return len(self._dedup)

    # -- snapshot ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "applied_index": self.applied_index,
            "applied_term": self.applied_term,
            "last_time_ms": self.last_time_ms,
            "catalog": self.catalog,
            "eighty_six": self.eighty_six,
            "checks": self.checks,
            "numbers": self.numbers,
            "tickets": self.tickets,
            "time_entries": self.time_entries,
            "on_clock": self.on_clock,
            "days": self.days,
            "audit": self.audit,
            "sync": self.sync,
            "seq": self.seq,
            "dedup": [[cid, t, self._dedup[cid], i] for t, i, cid in self._dedup_order],
        }

    def snapshot(self) -> bytes:
        """The canonical encoding of the whole state (what ``restore`` takes back)."""
        return canonical_json(self.to_dict())

    def state_hash(self) -> str:
        """SHA-256 hex of the canonical snapshot."""
        known = self.known_hash()
        if known is not None:
            return known
        digest = hashlib.sha256(self.snapshot()).hexdigest()
        self._hash_at = (self.applied_index, digest)
        return digest

    def known_hash(self) -> str | None:
        """The state hash if it was worked out since the last change, else None."""
        if self._hash_at is not None and self._hash_at[0] == self.applied_index:
            return self._hash_at[1]
        return None

    def note_hash(self, index: int, digest: str) -> None:
        """Remember a hash worked out elsewhere (a copy of this state as of ``index``)."""
        if index == self.applied_index:
            self._hash_at = (index, digest)

    @classmethod
    def restore(cls, data: bytes) -> LedgerState:
        """A state equal to the one ``data`` was taken from."""
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != SNAPSHOT_FORMAT:
            raise ValueError("not a ledger snapshot of a known format")
        state = cls()
        state.applied_index = raw["applied_index"]
        state.applied_term = raw["applied_term"]
        state.last_time_ms = raw["last_time_ms"]
        state.catalog = raw["catalog"]
        state.eighty_six = raw["eighty_six"]
        state.checks = raw["checks"]
        state.numbers = raw["numbers"]
        state.tickets = raw["tickets"]
        state.time_entries = raw["time_entries"]
        state.on_clock = raw["on_clock"]
        state.days = raw["days"]
        state.audit = raw["audit"]
        state.sync = raw["sync"]
        state.seq = raw["seq"]
        for cid, t, outcome, *index in raw["dedup"]:
            # Snapshots taken before the index was kept: treat those as long ago.
            state.remember(cid, t, outcome, index[0] if index else 0)
        return state


def restore(data: bytes) -> LedgerState:
    """Module-level alias of ``LedgerState.restore``."""
    return LedgerState.restore(data)
