"""One-off, blocking looks at a cloud (for start-up and demo scripts, not the agent)."""

from __future__ import annotations

from typing import Any

import httpx


class CloudReadError(Exception):
    """The cloud could not be read; the message says why."""


def cloud_healthy(url: str, timeout: float = 1.0) -> bool:
    """True when ``url``'s ``/v1/health`` answers 200 within ``timeout`` seconds."""
    try:
        return httpx.get(url.rstrip("/") + "/v1/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def cloud_checks(url: str, token: str, *, limit: int = 1000, timeout: float = 10.0) -> list[Any]:
    """The site's checks as the cloud holds them (``GET /v1/checks``)."""
    try:
        reply = httpx.get(
            url.rstrip("/") + "/v1/checks",
            params={"limit": limit},
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
        reply.raise_for_status()
        checks = reply.json()["checks"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise CloudReadError(str(exc) or type(exc).__name__) from exc
    if not isinstance(checks, list):
        raise CloudReadError("the answer's 'checks' is not a list")
    return checks
