"""The HTTP API fuzzed from its own OpenAPI schema: no 500s, every refusal a JSON 4xx.

Schemathesis turns each operation of the schema into a hypothesis strategy of valid
(positive) and invalid (negative) requests; they go through the ASGI app in process
and every answer is checked against the schema. Bounded by ``MAX_EXAMPLES`` so the
whole run takes seconds. Requests are sent with the suite's own client rather than
schemathesis' ASGI transport, whose helper thread would outlive the test.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import sessionmaker

from cloud.app import create_app
from tests.cloud.cloudkit import ADMIN_TOKEN, NORTH_TOKEN, AppClient, bearer

MAX_EXAMPLES = 15  # per operation and generation mode
BASE_URL = "http://cloud.test"


def _openapi() -> dict[str, Any]:
    # The schema does not depend on the database, so it can be read at collection time.
    return create_app(sessionmaker()).openapi()


OPENAPI = _openapi()
# (method, path, mode): invalid requests only where there is an input to get wrong.
CASES = [
    pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, item in OPENAPI["paths"].items()
    for method, operation in item.items()
    for mode in GenerationMode
    if mode is GenerationMode.POSITIVE or operation.get("parameters") or "requestBody" in operation
]


@schemathesis.check
def errors_are_json_with_a_code(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """Every 4xx carries {"error": {"code", "message"}} so clients can branch on it."""
    if 400 <= response.status_code < 500:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(error, dict), f"error body without 'error': {body!r}"
        assert isinstance(error.get("code"), str) and error["code"], body
        assert isinstance(error.get("message"), str) and error["message"], body
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    errors_are_json_with_a_code,
]


def auth_for(path: str) -> dict[str, str]:
    # Admin routes need the admin token and site routes a site token; wrong and missing
    # tokens have their own tests.
    return bearer(ADMIN_TOKEN if path.startswith("/v1/admin/") else NORTH_TOKEN)


def send(client: AppClient, case: Case[Any]) -> Any:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=auth_for(case.path))
    body: dict[str, Any] = {}
    if "json" in kwargs:
        body["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        body["content"] = kwargs["data"]
    return client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=kwargs["headers"],
        **body,
    )


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_generated_requests_get_sensible_answers(
    client: AppClient, method: str, path: str, mode: GenerationMode
) -> None:
    operation = schemathesis.openapi.from_dict(OPENAPI)[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def answer_is_sensible(case: Case[Any]) -> None:
        response = send(client, case)
        case.validate_response(response, checks=CHECKS)

    answer_is_sensible()
