"""The leader's cloud agent: probe, pull the catalog, upload the backlog, commit the answers.

It runs only while its node leads (the node starts it when elected and cancels
it the moment it is deposed) and it changes the cluster only by proposing
commands, so a new leader resumes exactly where the old one stopped:

- what the cloud has acknowledged is in the log (``synced``), so nothing is posted
  twice for good, and what was posted but not yet acknowledged in the log is posted
  again, which the cloud treats as the same post (idempotent on the temporary ID
  and on the event id);
- check numbers come back from the cloud and are committed as ``check_numbered``;
- catalog changes are committed as ``catalog_update``.

Every call to the cloud has a short timeout and failures back off; while the
cloud is away the agent only probes, and the status it publishes (``state``)
turns every node's dot red. Rules: never block the loop, never raise out of
``run`` for a cloud's misbehaviour, never post a record the cloud refused twice
in a row without backing off.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx

from mesh.ledger import queries
from mesh.ledger.state import LedgerState

log = logging.getLogger(__name__)

BATCH = 500  # records per upload round (the most the cloud takes in one post)
# bytes of JSON per post at most (the reference cloud takes 4 MiB by default); a cloud
# that still answers 413 gets batches half as large from then on
MAX_BODY_BYTES = 1 << 20
REQUEST_TIMEOUT_S = 3.0  # s for one HTTP request, connect included
IDLE_S = 0.25  # s between rounds while the cloud is up (a new check is numbered within ~1 s)
PROBE_EVERY_S = 2.0  # s between health probes while nothing is waiting
CATALOG_EVERY_S = 10.0  # s between catalog checks
YIELD_EVERY = 50  # records copied or numbers proposed between two yields to the loop
NUMBERS_PER_ENTRY = 100  # check numbers in one checks_numbered entry (the ledger takes 1000)
MAX_PIPELINED_BATCHES = 40  # batches in one upload before probing and the catalog again
BACKOFF_MIN_S = 0.5  # s after the first failure
BACKOFF_MAX_S = 5.0  # s at most between attempts on a cloud that answers badly (5xx, timeouts)
# s at most between probes of a cloud nobody answers for (connection refused or
# unreachable): a probe then costs the cloud nothing, and the backlog starts draining
# at most this long after the internet returns.
UNREACHABLE_MAX_S = 2.0
JITTER = 0.5  # each pause is drawn from [1 - JITTER, 1] x the back-off: sites do not probe in step

Propose = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

EVENT_KINDS = {"time": "time_entry", "audit": "audit", "day": "day_close"}


class CloudError(Exception):
    """The cloud did not give a usable answer (down, 5xx, timeout, malformed)."""

    def __init__(
        self, message: str, *, unreachable: bool = False, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.unreachable = unreachable  # nothing answered at all (no connection)
        self.status = status  # the HTTP status of a refusal


class NotCommitted(Exception):
    """The cluster did not commit what the agent proposed (leadership lost, no quorum)."""


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).isoformat()


def check_document(record: dict[str, Any], version: int) -> dict[str, Any]:
    """A ledger check (``queries.check_detail``) as the cloud's ``POST /v1/checks`` wants it."""
    doc = dict(record)
    doc.pop("id", None)
    doc.pop("number", None)
    doc.update(
        temp_id=record["id"],
        opened_at=iso(record["opened_at"]),
        closed_at=iso(record.get("closed_at")),
        tips=sum(int(p.get("tip", 0)) for p in record.get("payments", [])),
        total=int(record.get("total", 0)),
        revision=version,
    )
    return doc


def event_document(key: str, version: int, record: dict[str, Any]) -> dict[str, Any] | None:
    """A time entry, audit record or closed day as a cloud event; None if not for the cloud."""
    kind, _, ident = key.partition(":")
    event_kind = EVENT_KINDS.get(kind)
    if event_kind is None:
        return None
    if kind == "day":
        if record.get("status") != "closed":
            return None  # only a closed day is news for the back office
        at = record.get("closed_at")
        day = record["day"]
    elif kind == "time":
        at = record.get("clock_out") or record.get("clock_in")
        day = record["business_day"]
    else:
        at = record.get("at")
        day = record["business_day"]
        if record.get("action") == "no_sale":
            event_kind = "no_sale"
    return {
        # Each version is its own event: a time entry clocked out later is news again.
        "id": f"{kind}.{ident}.v{version}",
        "kind": event_kind,
        "at": iso(int(at or 0)),
        "business_day": day,
        "data": record,
    }


@dataclass
class CloudState:
    cloud: str = "unknown"  # "up", "down", or "unknown" before the first probe
    backlog: int = 0
    oldest_ms: int | None = None
    last_sync_ms: int | None = None
    last_error: str | None = None
    catalog_error: str | None = None  # why the cloud's newest catalog was refused

    def as_dict(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "backlog": self.backlog,
            "oldest_ms": self.oldest_ms,
            "last_sync_ms": self.last_sync_ms,
            "last_error": self.last_error,
            "catalog_error": self.catalog_error,
        }


@dataclass
class Batch:
    """Records picked for one upload: checks and events by the id the cloud answers with."""

    keys: list[str] = field(default_factory=list)
    checks: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    events: dict[str, tuple[str, int, dict[str, Any]]] = field(default_factory=dict)
    acks: list[dict[str, Any]] = field(default_factory=list)  # records with nothing to send


@dataclass
class Answered:
    """What the cloud acknowledged of one batch, to be committed."""

    acks: list[dict[str, Any]]
    size: int
    numbered: list[tuple[str, int]] = field(default_factory=list)
    post_ms: float = 0.0


def oldest_unsynced(state: LedgerState, *, limit: int, skip: frozenset[str]) -> list[str]:
    """The keys ``queries.unsynced_records`` would give (oldest change first), minus ``skip``.

    Only the keys: the agent reads each record when it copies it (see ``_next_batch``),
    and skipping the batch being acknowledged costs nothing here.
    """
    waiting = heapq.nsmallest(
        limit,
        (
            (rec["dirty_since"], key)
            for key, rec in state.sync.items()
            if rec["dirty_since"] is not None and key not in skip
        ),
    )
    return [key for _since, key in waiting]


def _record(state: LedgerState, key: str) -> Any:
    """The record behind a sync key, as ``queries.unsynced_records`` gives it (None if gone)."""
    kind, _, ident = key.partition(":")
    if kind == "check":
        check = state.checks.get(ident)
        return None if check is None else queries.check_detail(state, check)
    if kind == "time":
        entry = state.time_entries.get(ident)
        return None if entry is None else dict(entry)
    if kind == "audit":
        n = int(ident)
        return dict(state.audit[n - 1]) if 0 < n <= len(state.audit) else None
    if kind == "day":
        day = state.days.get(ident)
        return None if day is None else dict(day)
    return None


class SyncAgent:
    def __init__(
        self,
        *,
        url: str,
        token: str,
        ledger: Callable[[], LedgerState],
        propose: Propose,
        now_ms: Callable[[], int],
        on_state: Callable[[dict[str, Any]], None],
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._ledger = ledger
        self._rng = rng or random.Random()
        self._propose = propose
        self._now_ms = now_ms
        self._on_state = on_state
        self.state = CloudState()
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/") + "/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT_S,
            transport=transport,
        )
        self._last_probe: float | None = None  # monotonic s of the last good probe
        self._last_catalog: float | None = None  # monotonic s of the last catalog pull
        # The cloud's catalog version the ledger refused: not proposed again (each try
        # is an entry in every node's log) until the cloud publishes another.
        self._refused_catalog: int | None = None
        self._batch_limit = BATCH  # records per post; halved when the cloud says 413

    async def close(self) -> None:
        await self._client.aclose()

    # -- the loop ----------------------------------------------------------------
    async def run(self) -> None:
        """Until cancelled (the node cancels it when this node stops leading)."""
        backoff = BACKOFF_MIN_S
        try:
            while True:
                try:
                    busy = await self.round()
                except CloudError as exc:
                    if self.state.cloud != "down":
                        log.warning("cloud unreachable", extra={"error": str(exc)})
                    self._set(cloud="down", last_error=str(exc))
                    await self._pause(backoff)
                    ceiling = UNREACHABLE_MAX_S if exc.unreachable else BACKOFF_MAX_S
                    backoff = min(backoff * 2, ceiling)
                    continue
                except NotCommitted as exc:
                    # The next round (or the next leader's agent) posts the same records
                    # again, and the cloud answers the same: nothing is lost or doubled.
                    log.info("sync round not committed", extra={"error": str(exc)})
                    await self._pause(backoff)
                    continue
                except Exception as exc:
                    # A bug, or an answer stranger than the checks above foresaw: the
                    # agent must not die quietly (nothing would sync until the next
                    # election), so it says so and tries again, backing off.
                    log.exception("sync round failed")
                    self._set(last_error=f"{type(exc).__name__}: {exc}")
                    await self._pause(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                    continue
                backoff = BACKOFF_MIN_S
                if not busy:
                    await asyncio.sleep(IDLE_S)
        finally:
            await self.close()

    async def _pause(self, backoff: float) -> None:
        await asyncio.sleep(backoff * (1 - JITTER * self._rng.random()))

    async def round(self) -> bool:
        """One round: True when it uploaded something (go again at once)."""
        now = time.monotonic()
        if (
            self.state.cloud != "up"
            or self._last_probe is None
            or now - self._last_probe > PROBE_EVERY_S
        ):
            await self._get("/health")
            self._last_probe = now
            if self.state.cloud != "up":
                log.info("cloud reachable")
            self._set(cloud="up", last_error=None)
        if self._last_catalog is None or now - self._last_catalog > CATALOG_EVERY_S:
            await self.pull_catalog()
            self._last_catalog = now
        busy = await self.upload()
        self._publish_backlog()
        return busy

    # -- the cloud's answers, committed -------------------------------------------
    async def pull_catalog(self) -> None:
        catalog = self._ledger().catalog
        have = int(catalog.get("version", 0)) if catalog else 0
        body = await self._get("/catalog", params={"since_version": have})
        if body.get("unchanged") or not isinstance(body.get("catalog"), dict):
            return
        version = body.get("version")
        if not isinstance(version, int) or version <= 0:
            raise CloudError("catalog answer without a version")
        if version == self._refused_catalog:
            return
        document = dict(body["catalog"])
        document["version"] = version  # the cloud's counter is the one every node compares
        reply = await self._commit(
            {"type": "catalog_update", "id": f"catalog-v{version}", "catalog": document}
        )
        if reply.get("ok"):
            log.info("catalog update", extra={"version": version})
            self._set(catalog_error=None)
            return
        error = reply.get("error") or {}
        if error.get("code") == "conflict":
            return  # an older or the same version: applied before (by another leader)
        # The site sells on with the catalog it has; a manager must learn why the new
        # one never arrived (ctl status: cloud.catalog_error), not find out at the till.
        why = f"catalog version {version} refused: {error.get('message', error.get('code'))}"
        log.warning("the cloud's catalog was refused", extra={"version": version, "error": why})
        self._refused_catalog = version
        self._set(catalog_error=why)

    async def upload(self) -> bool:
        """Upload what the cloud has not acknowledged; True when there was something.

        Pipelined: while one batch's answers are being committed, the next batch is
        already on its way to the cloud (the two take about as long), so a backlog of
        thousands drains at the pace of the slower of the two, not of their sum. The
        next batch skips the records whose acknowledgement is being committed.
        """
        batch = await self._next_batch(skip=frozenset())
        if batch is None:
            return False
        posting: asyncio.Future[Answered] | None = asyncio.ensure_future(self._post_batch(batch))
        for _ in range(MAX_PIPELINED_BATCHES):
            assert posting is not None
            answered = await posting
            following = await self._next_batch(skip=frozenset(batch.keys))
            posting = asyncio.ensure_future(self._post_batch(following)) if following else None
            try:
                await self._commit_answers(answered)
            except BaseException:
                if posting is not None:
                    posting.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await posting
                raise
            self._publish_backlog()
            if posting is None or following is None:
                return True
            batch = following
        if posting is not None:
            # The round is long enough: let the caller probe and pull the catalog; what
            # was posted is posted again next round and answered the same.
            posting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await posting
        return True

    async def _next_batch(self, *, skip: frozenset[str]) -> Batch | None:
        """The oldest unacknowledged records (at most BATCH), as the cloud wants them.

        Copies a few records at a time and lets the loop run in between: the node's
        heartbeats must not wait for 500 checks to be copied.
        """
        batch = Batch()
        keys = oldest_unsynced(self._ledger(), limit=self._batch_limit, skip=skip)
        size = 0
        for n, key in enumerate(keys):
            if n and n % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            ledger = self._ledger()
            rec = ledger.sync.get(key)
            if rec is None or rec["dirty_since"] is None:
                continue  # acknowledged meanwhile (by the batch before)
            # The version read together with the record: an ack never claims more
            # than was posted (a later change stays unsynced and is posted again).
            version, record = rec["version"], _record(ledger, key)
            batch.keys.append(key)
            if record is None:
                batch.acks.append({"key": key, "version": version})  # nothing left to send
            elif key.startswith("check:"):
                doc = check_document(record, version)
                size += len(json.dumps(doc, separators=(",", ":")))
                batch.checks[record["id"]] = (key, version, doc)
            else:
                event = event_document(key, version, record)
                if event is None:
                    batch.acks.append({"key": key, "version": version})
                else:
                    size += len(json.dumps(event, separators=(",", ":")))
                    batch.events[event["id"]] = (key, version, event)
            if size >= MAX_BODY_BYTES:
                break  # the rest waits for the next batch; at least one record goes
        return batch if batch.keys else None

    async def _post_batch(self, batch: Batch) -> Answered:
        """Post a batch; what the cloud acknowledged (nothing is committed here)."""
        try:
            return await self._post_batch_once(batch)
        except CloudError as exc:
            if exc.status == 413 and self._batch_limit > 1:
                # Too large for this cloud: smaller batches from now on (this term).
                self._batch_limit = max(1, min(self._batch_limit, len(batch.keys)) // 2)
                log.warning("batch too large", extra={"records": self._batch_limit})
            raise

    async def _post_batch_once(self, batch: Batch) -> Answered:
        started = time.monotonic()
        answered = Answered(acks=list(batch.acks), size=len(batch.keys))
        checks, events = batch.checks, batch.events
        if checks:
            body = await self._post("/checks", {"checks": [doc for _, _, doc in checks.values()]})
            for result in _list(body, "results"):
                if not isinstance(result, dict):
                    raise CloudError(f"POST /checks: a result is not an object: {result!r:.80}")
                temp_id, number = result.get("temp_id"), result.get("number")
                if isinstance(temp_id, str) and temp_id in checks and _is_number(number):
                    key, version, _ = checks[temp_id]
                    answered.acks.append({"key": key, "version": version})
                    answered.numbered.append((temp_id, number))
        if events:
            body = await self._post("/events", {"events": [doc for _, _, doc in events.values()]})
            for event_id in _list(body, "acknowledged"):
                if isinstance(event_id, str) and event_id in events:
                    key, version, _ = events[event_id]
                    answered.acks.append({"key": key, "version": version})
        answered.post_ms = round((time.monotonic() - started) * 1000, 1)
        return answered

    async def _commit_answers(self, answered: Answered) -> None:
        """Commit the numbers, then the acknowledgements (never the other way round)."""
        started = time.monotonic()
        ledger = self._ledger()
        todo = [
            (temp_id, number)
            for temp_id, number in answered.numbered
            if (check := ledger.checks.get(temp_id)) is not None and check["number"] is None
        ]
        # One checks_numbered entry per chunk: a backlog of thousands of checks is a
        # few log entries to replicate and apply, not one per check. Chunks are
        # proposed together (group commit), and all must be committed before the
        # acknowledgement below, or a new leader would never number an acknowledged check.
        pending: list[asyncio.Future[dict[str, Any]]] = []
        try:
            for start in range(0, len(todo), NUMBERS_PER_ENTRY):
                chunk = todo[start : start + NUMBERS_PER_ENTRY]
                command = {
                    "type": "checks_numbered",
                    # The same answer resent (a retry) has the same id: applied once.
                    "id": f"nums-{chunk[0][0]}-{len(chunk)}-{chunk[-1][0]}",
                    "numbers": [{"check": t, "number": n} for t, n in chunk],
                }
                pending.append(asyncio.ensure_future(self._commit(command)))
                await asyncio.sleep(0)  # heartbeats and replies go out between chunks
            results = await asyncio.gather(*pending, return_exceptions=True)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
        for result in results:
            if isinstance(result, BaseException):
                raise result
            for skip in (result.get("outcome") or {}).get("skipped", []):
                log.error("the ledger refused a number from the cloud", extra={"skipped": skip})
        if answered.acks:
            await self._commit({"type": "synced", "id": uuid.uuid4().hex, "acks": answered.acks})
            self._set(last_sync_ms=self._now_ms())
        log.info(
            "uploaded",
            extra={
                "records": answered.size,
                "numbered": len(todo),
                "acks": len(answered.acks),
                "post_ms": answered.post_ms,
                "commit_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )

    async def _commit(self, command: dict[str, Any]) -> dict[str, Any]:
        command = {**command, "by": "@sync"}
        reply = await self._propose(command)
        if not reply.get("ok") and "index" not in reply:
            raise NotCommitted(str(reply.get("error")))
        return reply

    # -- HTTP ---------------------------------------------------------------------
    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._request("GET", path, params=params)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, json=body)

    async def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CloudError(
                f"{method} {path}: {type(exc).__name__}: {exc}",
                unreachable=isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout),
            ) from exc
        if response.status_code >= 400:
            raise CloudError(
                f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}",
                status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise CloudError(f"{method} {path}: the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise CloudError(f"{method} {path}: the answer is not a JSON object")
        return body

    # -- status ---------------------------------------------------------------------
    def _publish_backlog(self) -> None:
        count, oldest = queries.unsynced_count(self._ledger())
        self._set(backlog=count, oldest_ms=oldest)

    def _set(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        if self.state.cloud == "down":
            count, oldest = queries.unsynced_count(self._ledger())
            self.state.backlog, self.state.oldest_ms = count, oldest
        self._on_state(self.state.as_dict())


def _is_number(value: object) -> TypeGuard[int]:
    """A check number as the cloud gives it: a positive int (JSON true is not one)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise CloudError(f"the answer has no list {key!r}")
    return [v for v in value if v is not None]
