"""Every error the service answers is JSON: {"error": {"code", "message"[, "details"]}}.

Clients branch on ``code`` (stable, snake_case); ``message`` is for people. A bad
request is always a 4xx with a reason, never a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cloud.schemas import ErrorBody

log = logging.getLogger("cloud.errors")

CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}

# Documented on every route so the OpenAPI schema names the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code}
    for status, code in CODES_BY_STATUS.items()
    if status in (400, 401, 404, 413, 415, 422, 503)
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return error_response(exc.status, exc.code, exc.message, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _body_is_not_json(request, exc):
        return error_response(
            415,
            "unsupported_media_type",
            "request bodies are JSON (Content-Type: application/json)",
        )
    details = [
        {"loc": [str(part) for part in error.get("loc", ())], "msg": str(error.get("msg", ""))}
        for error in exc.errors()
    ]
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return error_response(400, "malformed_json", "the request body is not valid JSON", details)
    return error_response(422, "invalid_request", _summary(details), details)


def _body_is_not_json(request: Request, exc: RequestValidationError) -> bool:
    # FastAPI parses a body as JSON only when it is labelled JSON (not when it is not
    # labelled at all); otherwise the model sees raw bytes and the error would blame
    # the content ("Input should be a valid dictionary") rather than the label.
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return False
    return any(tuple(error.get("loc", ())) == ("body",) for error in exc.errors())


def _summary(details: list[dict[str, Any]]) -> str:
    if not details:
        return "the request does not match the API"
    first = details[0]
    where = ".".join(first["loc"])
    more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = CODES_BY_STATUS.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The database is down, or a lock wait ran out: nothing was committed, so the
    # client may simply retry the same (idempotent) request.
    log.warning(
        "database unavailable",
        extra={"fields": {"path": request.url.path, "error": str(exc).splitlines()[0]}},
    )
    return error_response(
        503,
        "database_unavailable",
        "the database is busy or down; retry",
        headers={"Retry-After": "1"},
    )


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unexpected error",
        exc_info=exc,
        extra={"fields": {"path": request.url.path, "method": request.method}},
    )
    return error_response(500, "internal_error", "the service failed; the error was logged")
