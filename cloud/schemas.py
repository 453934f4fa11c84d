"""The HTTP contract's bodies, as pydantic models (they also produce the OpenAPI schema).

Only the fields the back office acts on are typed strictly (ids, business day, times,
money, status). Everything else a site sends (lines, payments, its own extra fields)
is kept verbatim: the mesh owns those shapes, the cloud only stores and returns them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    WithJsonSchema,
)

MAX_BATCH = 500  # items per batch request; a sync agent sends more in several batches
MAX_LIST = 1000  # lines or payments on one check

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"),
]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _iso_day_text(value: Any) -> Any:
    # Lax date parsing would also take numbers (Unix time) and datetimes; a business
    # day is only ever the site's "YYYY-MM-DD". [0-9], not \d: \d also matches other
    # scripts' digits, which would then fail with pydantic's vaguer message.
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        return value
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise ValueError('a business day is a "YYYY-MM-DD" string')


BusinessDay = Annotated[
    dt.date,
    BeforeValidator(_iso_day_text),
    WithJsonSchema({"type": "string", "format": "date"}),
]


def _storable(value: dt.datetime) -> dt.datetime:
    # Years 1 and 9999 parse, but with their offset they fall outside what a datetime can
    # hold once turned to UTC for storage: that failed as a 500. No sale is that old.
    # (Only that: a device whose clock says 1970 must still sync, or every later check
    # would wait behind its refused one.)
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("a time this close to year 1 or 9999 cannot be stored") from None
    return value


# RFC 3339's date-time (section 5.6; the space its note allows is taken too), with
# the offset it requires. The text's shape is checked before pydantic parses it
# because pydantic also reads Unix times (numbers when lax, digit strings even when
# strict): 1796377692, "1796377692" and 0 were stored as times in 2026 or 1970.
_RFC3339_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _rfc3339_text(value: Any) -> Any:
    if isinstance(value, str) and _RFC3339_TIME.fullmatch(value):
        return value  # pydantic then checks the ranges (month 13, hour 25...)
    if isinstance(value, dt.datetime):
        return value  # built in Python, not posted; AwareDatetime still wants an offset
    raise ValueError(
        'a time is an RFC 3339 string with an offset, e.g. "2026-03-14T19:02:03+01:00"'
    )


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_storable)]
# Integer minor units; floats are refused so that no rounding happens on the way in.
MoneyAmount = Annotated[int, Field(strict=True, ge=-(10**15), le=10**15)]
EventKind = Literal["time_entry", "no_sale", "audit", "day_close"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckIn(BaseModel):
    """One check as the site knows it now; extra fields are stored and returned as posted."""

    model_config = ConfigDict(extra="allow")

    temp_id: Identifier
    business_day: BusinessDay
    opened_at: Instant
    closed_at: Instant | None = None
    status: Label = "open"
    table: JsonValue = None
    server: JsonValue = None
    lines: Annotated[list[dict[str, JsonValue]], Field(max_length=MAX_LIST)] = []
    payments: Annotated[list[dict[str, JsonValue]], Field(max_length=MAX_LIST)] = []
    tips: Annotated[int, Field(strict=True, ge=0, le=10**15)] = 0
    total: MoneyAmount = 0
    revision: Annotated[int, Field(strict=True, ge=0, le=2**62)] | None = Field(
        default=None,
        description="Optional counter the site raises on each change; a post with a lower "
        "revision than the stored one keeps its number but does not overwrite newer content.",
    )


class ChecksIn(Strict):
    checks: Annotated[list[CheckIn], Field(min_length=1, max_length=MAX_BATCH)]


class CheckNumber(Strict):
    temp_id: str
    number: int
    created: bool = Field(description="True only for the post that assigned the number.")


class ChecksOut(Strict):
    results: list[CheckNumber]


class CheckOut(Strict):
    temp_id: str
    number: int
    business_day: dt.date
    status: str
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    total: int
    tips: int
    revision: int
    first_seen_at: dt.datetime
    updated_at: dt.datetime
    document: dict[str, Any] = Field(description="The latest posted check, verbatim.")


class CheckList(Strict):
    checks: list[CheckOut]


class EventIn(Strict):
    id: Identifier
    kind: EventKind
    at: Instant
    business_day: BusinessDay
    data: dict[str, JsonValue] = {}


class EventsIn(Strict):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_BATCH)]


class Acknowledged(Strict):
    acknowledged: list[str]


class DeviceIn(Strict):
    id: Identifier
    name: Label | None = None
    role: Label | None = None
    data: dict[str, JsonValue] = {}


class DevicesIn(Strict):
    devices: Annotated[list[DeviceIn], Field(min_length=1, max_length=MAX_BATCH)]


class DeviceOut(Strict):
    id: str
    name: str | None
    role: str | None
    data: dict[str, Any]
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class DeviceList(Strict):
    devices: list[DeviceOut]


class CatalogIn(Strict):
    catalog: dict[str, JsonValue] = Field(
        description="site, items, staff and tenders (required keys); stored verbatim."
    )


class CatalogOut(Strict):
    version: int = Field(description="0 when the site has no catalog yet.")
    unchanged: bool = Field(description="True when since_version is already current.")
    catalog: dict[str, Any] | None


class CatalogVersionOut(Strict):
    version: int
    changed: bool = Field(description="False when the same catalog was already current.")


class DaySummary(Strict):
    business_day: dt.date
    checks: int
    open_checks: int
    closed_checks: int
    first_number: int | None
    last_number: int | None
    total: int
    tips: int
    payments_by_tender: dict[str, int]
    events: dict[str, int]
    closed: bool = Field(description="True once a day_close event was received for the day.")


class Health(Strict):
    ok: bool


class ErrorDetail(Strict):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(Strict):
    error: ErrorDetail


FaultMode = Literal["off", "error", "unavailable", "delay", "malformed"]


class FaultIn(Strict):
    mode: FaultMode
    seconds: Annotated[float, Field(gt=0, le=3600)] | None = Field(
        default=None, description="Stop after this long (and/or after `requests`)."
    )
    requests: Annotated[int, Field(ge=1, le=100_000)] | None = Field(
        default=None, description="Stop after this many faulty answers."
    )
    delay_ms: Annotated[int, Field(ge=0, le=60_000)] = 1000


class FaultOut(Strict):
    mode: FaultMode
    seconds_left: float | None
    requests_left: int | None
    delay_ms: int


class SiteIn(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    token: Annotated[str, StringConstraints(min_length=16, max_length=256)] | None = Field(
        default=None, description="Omit to have a random token made (recommended)."
    )


class SiteCreated(Strict):
    name: str
    token: str = Field(description="Shown only here; the service keeps only its digest.")
