"""A fault knob for tests: make the service misbehave for a while, on purpose.

An admin sets a mode (``error`` 500s, ``unavailable`` 503s, ``delay`` slow answers,
``malformed`` 200s whose body is not JSON) for a number of seconds and/or requests,
so a sync agent's back-off and retry can be tested against the real process. Only
``/v1/`` routes outside ``/v1/admin/`` are affected, so the knob can always be reset.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from cloud.errors import error_response
from cloud.schemas import FaultIn, FaultMode, FaultOut

AFFECTED_PREFIX = "/v1/"
EXEMPT_PREFIX = "/v1/admin/"
MALFORMED_BODY = b'{"results": [{"temp_id": '  # cut short, as a dropped proxy would


@dataclass(frozen=True, kw_only=True)
class Fault:
    mode: FaultMode
    until: float | None  # time.monotonic() deadline
    requests_left: int | None
    delay_ms: int


OFF = Fault(mode="off", until=None, requests_left=None, delay_ms=0)


class FaultSwitch:
    """The current fault, shared between the admin route and the middleware (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault = OFF

    def set(self, wanted: FaultIn) -> FaultOut:
        with self._lock:
            if wanted.mode == "off":
                self._fault = OFF
            else:
                until = None if wanted.seconds is None else time.monotonic() + wanted.seconds
                self._fault = Fault(
                    mode=wanted.mode,
                    until=until,
                    requests_left=wanted.requests,
                    delay_ms=wanted.delay_ms,
                )
            return self._describe()

    def describe(self) -> FaultOut:
        with self._lock:
            self._expire()
            return self._describe()

    def take(self) -> Fault:
        """The fault to apply to one request (counting it), or OFF."""
        with self._lock:
            self._expire()
            fault = self._fault
            if fault.mode != "off" and fault.requests_left is not None:
                left = fault.requests_left - 1
                self._fault = (
                    OFF
                    if left <= 0
                    else Fault(
                        mode=fault.mode,
                        until=fault.until,
                        requests_left=left,
                        delay_ms=fault.delay_ms,
                    )
                )
            return fault

    def _expire(self) -> None:
        until = self._fault.until
        if until is not None and time.monotonic() >= until:
            self._fault = OFF

    def _describe(self) -> FaultOut:
        fault = self._fault
        left = None if fault.until is None else max(0.0, fault.until - time.monotonic())
        return FaultOut(
            mode=fault.mode,
            seconds_left=left,
            requests_left=fault.requests_left,
            delay_ms=fault.delay_ms,
        )


class FaultInjector:
    """ASGI middleware applying the switch's fault before the app sees a request."""

    def __init__(self, app: ASGIApp, switch: FaultSwitch) -> None:
        self.app = app
        self.switch = switch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(AFFECTED_PREFIX)
            or path.startswith(EXEMPT_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        fault = self.switch.take()
        if fault.mode == "error":
            response = error_response(500, "injected_fault", "fault injected by an admin")
            await response(scope, receive, send)
        elif fault.mode == "unavailable":
            response = error_response(
                503, "unavailable", "fault injected by an admin", headers={"Retry-After": "1"}
            )
            await response(scope, receive, send)
        elif fault.mode == "malformed":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(MALFORMED_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": MALFORMED_BODY})
        else:
            if fault.mode == "delay":
                await asyncio.sleep(fault.delay_ms / 1000)
            await self.app(scope, receive, send)
