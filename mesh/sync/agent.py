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
import datetime as dt
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from mesh.ledger import queries
from mesh.ledger.state import LedgerState

log = logging.getLogger(__name__)

BATCH = 500  # records per upload round (the most the cloud takes in one post)
REQUEST_TIMEOUT_S = 3.0  # s for one HTTP request, connect included
IDLE_S = 0.25  # s between rounds while the cloud is up (a new check is numbered within ~1 s)
PROBE_EVERY_S = 2.0  # s between health probes while nothing is waiting
CATALOG_EVERY_S = 10.0  # s between catalog checks
BACKOFF_MIN_S = 0.5  # s after the first failure
BACKOFF_MAX_S = 5.0  # s at most between probes of a cloud that is away

Propose = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

EVENT_KINDS = {"time": "time_entry", "audit": "audit", "day": "day_close"}


class CloudError(Exception):
    """The cloud did not give a usable answer (down, 5xx, timeout, malformed)."""


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "backlog": self.backlog,
            "oldest_ms": self.oldest_ms,
            "last_sync_ms": self.last_sync_ms,
            "last_error": self.last_error,
        }


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
    ) -> None:
        self._ledger = ledger
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
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
                    continue
                except NotCommitted as exc:
                    # The next round (or the next leader's agent) posts the same records
                    # again, and the cloud answers the same: nothing is lost or doubled.
                    log.info("sync round not committed", extra={"error": str(exc)})
                    await asyncio.sleep(backoff)
                    continue
                backoff = BACKOFF_MIN_S
                if not busy:
                    await asyncio.sleep(IDLE_S)
        finally:
            await self.close()

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
        document = dict(body["catalog"])
        document["version"] = version  # the cloud's counter is the one every node compares
        reply = await self._commit(
            {"type": "catalog_update", "id": f"catalog-v{version}", "catalog": document}
        )
        log.info("catalog update", extra={"version": version, "ok": reply.get("ok")})

    async def upload(self) -> bool:
        started = time.monotonic()
        records = queries.unsynced_records(self._ledger(), limit=BATCH)
        if not records:
            return False
        checks: dict[str, tuple[str, int, dict[str, Any]]] = {}
        events: dict[str, tuple[str, int, dict[str, Any]]] = {}
        acks: list[dict[str, Any]] = []
        for item in records:
            key, version, record = item["key"], item["version"], item["record"]
            if record is None:
                acks.append({"key": key, "version": version})  # nothing left to send
            elif key.startswith("check:"):
                checks[record["id"]] = (key, version, check_document(record, version))
            else:
                event = event_document(key, version, record)
                if event is None:
                    acks.append({"key": key, "version": version})
                else:
                    events[event["id"]] = (key, version, event)
        numbered: list[tuple[str, int]] = []
        if checks:
            body = await self._post("/checks", {"checks": [doc for _, _, doc in checks.values()]})
            for result in _list(body, "results"):
                temp_id, number = result.get("temp_id"), result.get("number")
                if temp_id in checks and isinstance(number, int):
                    key, version, _ = checks[temp_id]
                    acks.append({"key": key, "version": version})
                    numbered.append((temp_id, number))
        if events:
            body = await self._post("/events", {"events": [doc for _, _, doc in events.values()]})
            for event_id in _list(body, "acknowledged"):
                if event_id in events:
                    key, version, _ = events[event_id]
                    acks.append({"key": key, "version": version})
        posted = time.monotonic()
        ledger = self._ledger()
        # Proposed together, so the leader appends and fsyncs them as one batch (group
        # commit) instead of one disk round per check; all must be committed before the
        # acknowledgement below, or a new leader would never number an acknowledged check.
        pending = [
            self._commit(
                {
                    "type": "check_numbered",
                    "id": f"num-{temp_id}",
                    "check": temp_id,
                    "number": number,
                }
            )
            for temp_id, number in numbered
            if (check := ledger.checks.get(temp_id)) is not None and check["number"] is None
        ]
        if pending:
            for result in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result
        if acks:
            await self._commit({"type": "synced", "id": uuid.uuid4().hex, "acks": acks})
            self._set(last_sync_ms=self._now_ms())
        log.info(
            "uploaded",
            extra={
                "checks": len(checks),
                "events": len(events),
                "numbered": len(pending),
                "acks": len(acks),
                "post_ms": round((posted - started) * 1000, 1),
                "commit_ms": round((time.monotonic() - posted) * 1000, 1),
            },
        )
        return bool(acks)

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
            raise CloudError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 400:
            raise CloudError(f"{method} {path}: HTTP {response.status_code}: {response.text[:200]}")
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


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise CloudError(f"the answer has no list {key!r}")
    return [v for v in value if v is not None]
