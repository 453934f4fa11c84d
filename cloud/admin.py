"""Admin routes: the fault knob for tests, and creating sites on a running service.

They exist only when the service was started with ``--admin-token``; a site token
never opens them.
"""

from __future__ import annotations

from fastapi import APIRouter

from cloud.db import transaction
from cloud.deps import AdminOnly, ServicesDep
from cloud.errors import ERROR_RESPONSES, ApiError
from cloud.schemas import ErrorBody, FaultIn, FaultOut, SiteCreated, SiteIn
from cloud.sites import SiteConflict, SiteError, create_site
from cloud.strict_json import StrictJsonRoute

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[AdminOnly],
    responses=ERROR_RESPONSES,
    route_class=StrictJsonRoute,
)


@router.get("/fault")
def get_fault(services: ServicesDep) -> FaultOut:
    return services.faults.describe()


@router.put("/fault")
def put_fault(body: FaultIn, services: ServicesDep) -> FaultOut:
    return services.faults.set(body)


@router.post(
    "/sites",
    status_code=201,
    responses={409: {"model": ErrorBody, "description": "site_conflict"}},
)
def post_site(body: SiteIn, services: ServicesDep) -> SiteCreated:
    try:
        with transaction(services.sessions) as session:
            site, token = create_site(session, body.name, body.token)
            return SiteCreated(name=site.name, token=token)
    except SiteConflict as exc:
        raise ApiError(409, "site_conflict", str(exc)) from exc
    except SiteError as exc:
        raise ApiError(422, "invalid_site", str(exc)) from exc
