"""What routes need from outside the request: the database, the fault switch, who is asking.

A site is identified only by its bearer token; the admin by the token given on the
command line. Both answer 401 with a JSON error when the token is missing or wrong.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import transaction
from cloud.errors import ApiError
from cloud.faults import FaultSwitch
from cloud.sites import site_for_token


@dataclass(kw_only=True)
class Services:
    sessions: sessionmaker[Session]
    admin_token: str | None = None
    faults: FaultSwitch = field(default_factory=FaultSwitch)


def get_services(request: Request) -> Services:
    services = request.app.state.services
    assert isinstance(services, Services)
    return services


site_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="SiteToken",
    description="The site's token, as printed by `--create-site` or given with `--token`.",
)
admin_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="The admin token given with `--admin-token`.",
)


def current_site_id(
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(site_bearer)],
) -> int:
    if credentials is None:
        raise ApiError(401, "unauthorized", "a site bearer token is required")
    with transaction(services.sessions) as session:
        site = site_for_token(session, credentials.credentials)
        if site is None:
            raise ApiError(401, "unauthorized", "unknown site token")
        return site.id


def require_admin(
    services: Annotated[Services, Depends(get_services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)],
) -> None:
    if services.admin_token is None:
        # Without an admin token the admin routes do not exist, as far as callers can tell.
        raise ApiError(404, "not_found", "admin routes are disabled (no --admin-token)")
    if credentials is None or not hmac.compare_digest(
        credentials.credentials.encode("utf-8"), services.admin_token.encode("utf-8")
    ):
        raise ApiError(401, "unauthorized", "a valid admin bearer token is required")


SiteId = Annotated[int, Depends(current_site_id)]
AdminOnly = Depends(require_admin)
ServicesDep = Annotated[Services, Depends(get_services)]
