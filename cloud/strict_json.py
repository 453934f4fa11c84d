"""Request bodies read as JSON and nothing else: NaN, Infinity and absurd nesting refused.

Python's ``json`` reads ``NaN`` and ``Infinity``, which are not JSON: a money field
refused them (floats are), but a free-form field (a check's table, an event's data,
the catalog's site) took the float and stored it as null. And a body nested
thousands deep failed inside the parser with an error no contract names. Both are
now the documented ``400 malformed_json``, as any other body that is not JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


def _not_json(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


def loads(document: str | bytes) -> Any:
    """Parse JSON strictly; every way of not being JSON is a ``json.JSONDecodeError``."""
    try:
        return json.loads(document, parse_constant=_not_json)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", "", 0) from None
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", "", exc.start) from None


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route whose body is parsed by ``StrictJsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
