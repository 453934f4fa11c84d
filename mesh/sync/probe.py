"""A one-off, blocking look at whether a cloud answers (for start-up scripts, not the agent)."""

from __future__ import annotations

import httpx


def cloud_healthy(url: str, timeout: float = 1.0) -> bool:
    """True when ``url``'s ``/v1/health`` answers 200 within ``timeout`` seconds."""
    try:
        return httpx.get(url.rstrip("/") + "/v1/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False
