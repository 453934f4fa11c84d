"""The site-facing routes of the v1 HTTP contract (documented in docs/cloud.md).

Routes are thin: parse, authenticate, call one service function in one transaction.
They are plain ``def`` so FastAPI runs them on its thread pool and the blocking
database calls never stall the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from cloud.catalog import CatalogError, current_catalog, publish_catalog
from cloud.db import transaction
from cloud.deps import ServicesDep, SiteId
from cloud.errors import ERROR_RESPONSES, ApiError
from cloud.events import post_devices, post_events
from cloud.numbering import post_checks
from cloud.reports import check_out, day_summary, find_check, list_checks, list_devices
from cloud.schemas import (
    Acknowledged,
    BusinessDay,
    CatalogIn,
    CatalogOut,
    CatalogVersionOut,
    CheckList,
    CheckOut,
    ChecksIn,
    ChecksOut,
    DaySummary,
    DeviceList,
    DevicesIn,
    EventsIn,
    Health,
)
from cloud.strict_json import StrictJsonRoute

router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES, route_class=StrictJsonRoute)

MAX_PAGE = 1000
CheckRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The check number or its temporary id; both find the check.",
    ),
]


@router.get("/health", tags=["service"])
def health() -> Health:
    return Health(ok=True)


@router.get("/catalog", tags=["catalog"])
def get_catalog(
    site_id: SiteId,
    services: ServicesDep,
    since_version: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> CatalogOut:
    with transaction(services.sessions) as session:
        current = current_catalog(session, site_id)
        if current is None:
            return CatalogOut(version=0, unchanged=since_version == 0, catalog=None)
        # Only an exact match is "unchanged": a site ahead of the cloud (restored from
        # an older backup) must get the cloud's catalog rather than keep its own.
        if since_version == current.version:
            return CatalogOut(version=current.version, unchanged=True, catalog=None)
        return CatalogOut(version=current.version, unchanged=False, catalog=current.document)


@router.put("/catalog", tags=["catalog"])
def put_catalog(body: CatalogIn, site_id: SiteId, services: ServicesDep) -> CatalogVersionOut:
    try:
        with transaction(services.sessions) as session:
            version, changed = publish_catalog(session, site_id, body.catalog)
    except CatalogError as exc:
        raise ApiError(422, "invalid_catalog", str(exc)) from exc
    return CatalogVersionOut(version=version, changed=changed)


@router.post("/checks", tags=["checks"])
def post_checks_route(body: ChecksIn, site_id: SiteId, services: ServicesDep) -> ChecksOut:
    with transaction(services.sessions) as session:
        return ChecksOut(results=post_checks(session, site_id, body.checks))


@router.get("/checks", tags=["checks"])
def get_checks(
    site_id: SiteId,
    services: ServicesDep,
    business_day: BusinessDay | None = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="Only numbers above this")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> CheckList:
    with transaction(services.sessions) as session:
        rows = list_checks(session, site_id, business_day, after, limit)
        return CheckList(checks=[check_out(row) for row in rows])


@router.get("/checks/{ref}", tags=["checks"])
def get_check(ref: CheckRef, site_id: SiteId, services: ServicesDep) -> CheckOut:
    with transaction(services.sessions) as session:
        row = find_check(session, site_id, ref)
        if row is None:
            raise ApiError(404, "check_not_found", f"no check {ref!r} on this site")
        return check_out(row)


@router.get("/days/{business_day}", tags=["checks"])
def get_day(business_day: BusinessDay, site_id: SiteId, services: ServicesDep) -> DaySummary:
    with transaction(services.sessions) as session:
        return day_summary(session, site_id, business_day)


@router.post("/events", tags=["events"])
def post_events_route(body: EventsIn, site_id: SiteId, services: ServicesDep) -> Acknowledged:
    with transaction(services.sessions) as session:
        return Acknowledged(acknowledged=post_events(session, site_id, body.events))


@router.post("/devices", tags=["devices"])
def post_devices_route(body: DevicesIn, site_id: SiteId, services: ServicesDep) -> Acknowledged:
    with transaction(services.sessions) as session:
        return Acknowledged(acknowledged=post_devices(session, site_id, body.devices))


@router.get("/devices", tags=["devices"])
def get_devices(site_id: SiteId, services: ServicesDep) -> DeviceList:
    with transaction(services.sessions) as session:
        return DeviceList(devices=list_devices(session, site_id))
