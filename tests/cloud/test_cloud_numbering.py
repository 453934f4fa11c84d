"""Check numbers under concurrency, on SQLite and on PostgreSQL: no duplicates, no gaps.

Requests run concurrently through the ASGI app: FastAPI runs each on its own worker
thread with its own database connection, so the database sees real concurrent
transactions (the real-process test repeats this over HTTP).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from cloud.db import make_session_factory, transaction
from cloud.models import Check, Site
from tests.cloud.cloudkit import (
    NORTH_TOKEN,
    SOUTH_TOKEN,
    CloudApp,
    a_check,
    bearer,
    build_app_on_existing,
)

CONCURRENT_POSTS = 40


async def _post_all(app: Any, bodies: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloud.test") as client:
        return await asyncio.wait_for(
            asyncio.gather(
                *(
                    client.post("/v1/checks", json=body, headers=bearer(token))
                    for token, body in bodies
                )
            ),
            timeout=60,
        )


def post_concurrently(built: CloudApp, bodies: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    responses = asyncio.run(_post_all(built.app, bodies))
    for response in responses:
        assert response.status_code == 200, response.text
    return [response.json()["results"] for response in responses]


def stored_numbers(built: CloudApp, token_site: str) -> list[int]:
    with transaction(make_session_factory(built.engine)) as session:
        site_id = session.scalar(select(Site.id).where(Site.name == token_site))
        return list(
            session.scalars(
                select(Check.number).where(Check.site_id == site_id).order_by(Check.number)
            )
        )


def test_concurrent_posts_of_different_checks_get_distinct_gapless_numbers(
    any_db_app: CloudApp,
) -> None:
    bodies = [(NORTH_TOKEN, {"checks": [a_check(f"T{i:03d}")]}) for i in range(CONCURRENT_POSTS)]
    results = post_concurrently(any_db_app, bodies)
    numbers = sorted(r[0]["number"] for r in results)
    assert numbers == list(range(1, CONCURRENT_POSTS + 1))
    assert stored_numbers(any_db_app, "north") == numbers


def test_concurrent_posts_of_one_check_all_get_its_single_number(any_db_app: CloudApp) -> None:
    bodies = [
        (NORTH_TOKEN, {"checks": [a_check("SAME", total=i)]}) for i in range(CONCURRENT_POSTS)
    ]
    results = post_concurrently(any_db_app, bodies)
    assert {r[0]["number"] for r in results} == {1}
    assert sum(r[0]["created"] for r in results) == 1
    assert stored_numbers(any_db_app, "north") == [1]


def test_concurrent_overlapping_batches_on_two_sites(any_db_app: CloudApp) -> None:
    # Each of 10 checks is posted in 3 different batches, racing; south races alongside.
    batches = [[a_check(f"C{(start + k) % 10}") for k in range(4)] for start in range(0, 30, 1)]
    bodies = [(NORTH_TOKEN, {"checks": batch}) for batch in batches]
    bodies += [(SOUTH_TOKEN, {"checks": [a_check(f"C{i}")]}) for i in range(10)]
    results = post_concurrently(any_db_app, bodies)

    north_numbers: dict[str, set[int]] = {}
    for result in results[: len(batches)]:
        for item in result:
            north_numbers.setdefault(item["temp_id"], set()).add(item["number"])
    # Every temp id got exactly one number, and the numbers are 1..10 with no gap.
    assert all(len(numbers) == 1 for numbers in north_numbers.values())
    assert sorted(n for (n,) in north_numbers.values()) == list(range(1, 11))
    south = sorted(result[0]["number"] for result in results[len(batches) :])
    assert south == list(range(1, 11))
    assert stored_numbers(any_db_app, "north") == list(range(1, 11))
    assert stored_numbers(any_db_app, "south") == list(range(1, 11))


def test_site_counter_matches_the_highest_number(any_db_app: CloudApp) -> None:
    post_concurrently(
        any_db_app, [(NORTH_TOKEN, {"checks": [a_check(f"K{i}")]}) for i in range(12)]
    )
    with transaction(make_session_factory(any_db_app.engine)) as session:
        north = session.scalars(select(Site).where(Site.name == "north")).one()
        highest = session.scalar(select(func.max(Check.number)).where(Check.site_id == north.id))
        counter = north.last_check_number
    assert counter == highest == 12


@pytest.mark.parametrize("batch_size", [1, 7])
def test_numbering_resumes_after_an_app_restart(any_db_url: str, batch_size: int) -> None:
    first = build_app_on_existing(any_db_url, create_sites=True)
    try:
        post_concurrently(
            first,
            [
                (NORTH_TOKEN, {"checks": [a_check(f"R{i}-{j}") for j in range(batch_size)]})
                for i in range(3)
            ],
        )
    finally:
        first.engine.dispose()
    second = build_app_on_existing(any_db_url, create_sites=False)
    try:
        again = post_concurrently(
            second, [(NORTH_TOKEN, {"checks": [a_check("R0-0"), a_check("NEW")]})]
        )
        assert again[0][0]["created"] is False
        assert again[0][1] == {"temp_id": "NEW", "number": 3 * batch_size + 1, "created": True}
    finally:
        second.engine.dispose()
