"""The shape of a refusal a node answers with: ``{"ok": false, "error": {code, message}, ...}``."""

from __future__ import annotations

from typing import Any


def error_reply(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}, **extra}
