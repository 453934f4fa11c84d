"""Assembles the back office's ASGI app: routes, error shape, body limit, fault knob."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from cloud import admin, api
from cloud.deps import Services
from cloud.errors import install_error_handlers
from cloud.faults import FaultInjector
from cloud.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit

API_VERSION = "1"


def create_app(
    sessions: sessionmaker[Session],
    *,
    admin_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    app = FastAPI(
        title="tablemesh back office",
        version=API_VERSION,
        description="Check numbers, posted checks and events, and the catalog, per site. "
        "See docs/cloud.md for the contract in prose.",
    )
    services = Services(sessions=sessions, admin_token=admin_token)
    app.state.services = services
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(admin.router)
    # The last added middleware runs first: faults apply before the body is even read.
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(FaultInjector, switch=services.faults)
    return app
