"""The HTTP contract, in process: every route, auth, site isolation, idempotency, errors."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cloud.app import create_app
from cloud.db import make_session_factory
from cloud.limits import DEFAULT_MAX_BODY_BYTES
from tests.cloud.cloudkit import (
    ADMIN_TOKEN,
    DAY,
    NORTH_TOKEN,
    SOUTH_TOKEN,
    AppClient,
    CloudApp,
    a_catalog,
    a_check,
    an_event,
    bearer,
)

NORTH = bearer(NORTH_TOKEN)
SOUTH = bearer(SOUTH_TOKEN)
ADMIN = bearer(ADMIN_TOKEN)


def post_checks(client: AppClient, *checks: dict[str, Any], auth: dict[str, str] = NORTH) -> Any:
    response = client.post("/v1/checks", json={"checks": list(checks)}, headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


# --- service ------------------------------------------------------------------------------


def test_health_needs_no_token(client: AppClient) -> None:
    response = client.get("/v1/health")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_openapi_schema_describes_every_route(client: AppClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/health",
        "/v1/catalog",
        "/v1/checks",
        "/v1/checks/{ref}",
        "/v1/days/{business_day}",
        "/v1/events",
        "/v1/devices",
        "/v1/admin/fault",
        "/v1/admin/sites",
    ):
        assert path in paths


SITE_ROUTES = [
    ("GET", "/v1/catalog", None),
    ("PUT", "/v1/catalog", {"catalog": a_catalog()}),
    ("POST", "/v1/checks", {"checks": [a_check("A1")]}),
    ("GET", "/v1/checks", None),
    ("GET", "/v1/checks/1", None),
    ("GET", f"/v1/days/{DAY}", None),
    ("POST", "/v1/events", {"events": [an_event("E1")]}),
    ("POST", "/v1/devices", {"devices": [{"id": "T1"}]}),
    ("GET", "/v1/devices", None),
]


@pytest.mark.parametrize(("method", "path", "body"), SITE_ROUTES)
@pytest.mark.parametrize(
    "headers",
    [{}, bearer("not-a-known-token-at-all"), {"Authorization": "Basic bm9ydGg6eA=="}, ADMIN],
    ids=["missing", "unknown", "not-bearer", "admin-token"],
)
def test_site_routes_refuse_without_a_site_token(
    client: AppClient, method: str, path: str, body: Any, headers: dict[str, str]
) -> None:
    response = client.request(method, path, json=body, headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


# --- check numbers ------------------------------------------------------------------------


def test_numbers_start_at_one_and_follow_first_sight(client: AppClient) -> None:
    results = post_checks(client, a_check("A1"), a_check("B2"), a_check("C3"))
    assert [(r["temp_id"], r["number"], r["created"]) for r in results] == [
        ("A1", 1, True),
        ("B2", 2, True),
        ("C3", 3, True),
    ]


def test_reposting_a_check_returns_its_number_again(client: AppClient) -> None:
    post_checks(client, a_check("A1"), a_check("B2"))
    again = post_checks(client, a_check("B2"), a_check("A1"), a_check("C3"))
    assert [(r["temp_id"], r["number"], r["created"]) for r in again] == [
        ("B2", 2, False),
        ("A1", 1, False),
        ("C3", 3, True),
    ]


def test_same_temp_id_twice_in_one_batch_gets_one_number(client: AppClient) -> None:
    results = post_checks(client, a_check("A1"), a_check("A1", status="closed"))
    assert [r["number"] for r in results] == [1, 1]
    assert client.get("/v1/checks/A1", headers=NORTH).json()["status"] == "closed"
    assert post_checks(client, a_check("B2"))[0]["number"] == 2


def test_a_later_post_updates_content_and_keeps_the_number(client: AppClient) -> None:
    post_checks(client, a_check("A1"))
    more_lines = [{"item": "burger", "qty": 1}, {"item": "fries", "qty": 2}]
    closed = a_check(
        "A1",
        status="closed",
        closed_at="2026-03-14T19:30:00+00:00",
        lines=more_lines,
        payments=[{"tender": "cash", "amount": 2000}],
        tips=300,
        total=2000,
        loyalty={"phone": "+15550100"},
    )
    assert post_checks(client, closed)[0] == {"temp_id": "A1", "number": 1, "created": False}
    stored = client.get("/v1/checks/1", headers=NORTH).json()
    assert stored["status"] == "closed"
    assert stored["closed_at"].startswith("2026-03-14T19:30:00")
    assert (stored["total"], stored["tips"]) == (2000, 300)
    assert stored["document"]["lines"] == more_lines
    # Fields the cloud does not know are kept verbatim for the back office.
    assert stored["document"]["loyalty"] == {"phone": "+15550100"}


def test_an_older_revision_never_overwrites_newer_content(client: AppClient) -> None:
    post_checks(client, a_check("A1", revision=5, status="closed", total=900))
    late = post_checks(client, a_check("A1", revision=3, status="open", total=100))
    assert late[0]["number"] == 1
    stored = client.get("/v1/checks/A1", headers=NORTH).json()
    assert (stored["status"], stored["total"], stored["revision"]) == ("closed", 900, 5)
    post_checks(client, a_check("A1", revision=6, status="void", total=0))
    assert client.get("/v1/checks/A1", headers=NORTH).json()["status"] == "void"


def test_both_ids_find_the_check(client: AppClient) -> None:
    post_checks(client, a_check("X7"), a_check("K9P2"))
    by_number = client.get("/v1/checks/2", headers=NORTH).json()
    by_temp = client.get("/v1/checks/K9P2", headers=NORTH).json()
    assert by_number == by_temp
    assert (by_number["temp_id"], by_number["number"]) == ("K9P2", 2)


def test_unknown_check_is_a_json_404(client: AppClient) -> None:
    assert_error(client.get("/v1/checks/NOPE", headers=NORTH), 404, "check_not_found")
    assert_error(client.get("/v1/checks/99", headers=NORTH), 404, "check_not_found")
    # "¹" is a digit to str.isdigit, not to int(): it was a 500 (found by the fuzz test).
    assert_error(client.get("/v1/checks/¹", headers=NORTH), 404, "check_not_found")


def test_checks_are_filed_in_the_business_day_the_site_states(client: AppClient) -> None:
    # 01:30 on the 15th is still the 14th's business day for a site whose day starts at 4.
    late_night = a_check("LATE", opened_at="2026-03-15T01:30:00+00:00", business_day=DAY)
    next_day = a_check("NEXT", business_day="2026-03-15")
    post_checks(client, a_check("A1"), late_night, next_day)
    on_day = client.get("/v1/checks", params={"business_day": DAY}, headers=NORTH).json()
    assert [c["temp_id"] for c in on_day["checks"]] == ["A1", "LATE"]
    on_next = client.get("/v1/checks", params={"business_day": "2026-03-15"}, headers=NORTH)
    assert [c["temp_id"] for c in on_next.json()["checks"]] == ["NEXT"]


def test_check_list_pages_by_number(client: AppClient) -> None:
    post_checks(client, *[a_check(f"P{i}") for i in range(7)])
    first = client.get("/v1/checks", params={"limit": 3}, headers=NORTH).json()["checks"]
    rest = client.get("/v1/checks", params={"after": 3}, headers=NORTH).json()["checks"]
    assert [c["number"] for c in first] == [1, 2, 3]
    assert [c["number"] for c in rest] == [4, 5, 6, 7]


def test_times_come_back_in_utc(client: AppClient) -> None:
    post_checks(client, a_check("TZ", opened_at="2026-03-14T20:00:00+02:00"))
    stored = client.get("/v1/checks/TZ", headers=NORTH).json()
    assert stored["opened_at"] in ("2026-03-14T18:00:00Z", "2026-03-14T18:00:00+00:00")


# --- site isolation ----------------------------------------------------------------------


def test_sites_number_independently_and_never_see_each_other(client: AppClient) -> None:
    post_checks(client, a_check("A1"), a_check("B2"))
    south = post_checks(client, a_check("B2"), a_check("S1"), auth=SOUTH)
    assert [(r["temp_id"], r["number"]) for r in south] == [("B2", 1), ("S1", 2)]
    assert_error(client.get("/v1/checks/A1", headers=SOUTH), 404, "check_not_found")
    # The same number on each site is that site's own check.
    assert client.get("/v1/checks/1", headers=SOUTH).json()["temp_id"] == "B2"
    assert client.get("/v1/checks/1", headers=NORTH).json()["temp_id"] == "A1"
    listed = client.get("/v1/checks", headers=SOUTH).json()["checks"]
    assert [c["temp_id"] for c in listed] == ["B2", "S1"]


def test_catalogs_events_and_devices_are_per_site(client: AppClient) -> None:
    client.put("/v1/catalog", json={"catalog": a_catalog()}, headers=NORTH)
    client.post("/v1/events", json={"events": [an_event("E1", "no_sale")]}, headers=NORTH)
    client.post("/v1/devices", json={"devices": [{"id": "T1"}]}, headers=NORTH)
    assert client.get("/v1/catalog", headers=SOUTH).json() == {
        "version": 0,
        "unchanged": True,
        "catalog": None,
    }
    assert client.get(f"/v1/days/{DAY}", headers=SOUTH).json()["events"]["no_sale"] == 0
    assert client.get("/v1/devices", headers=SOUTH).json() == {"devices": []}
    # Ids are per site: south may use the same event id for its own event.
    response = client.post("/v1/events", json={"events": [an_event("E1")]}, headers=SOUTH)
    assert response.json() == {"acknowledged": ["E1"]}
    assert client.get(f"/v1/days/{DAY}", headers=SOUTH).json()["events"]["audit"] == 1


# --- events, devices, day summary --------------------------------------------------------


def test_events_are_acknowledged_and_stored_once(client: AppClient) -> None:
    batch = {
        "events": [
            an_event("T-1", "time_entry", data={"staff": "ana", "in": "2026-03-14T16:00:00Z"}),
            an_event("NS-1", "no_sale"),
            an_event("AU-1", "audit"),
        ]
    }
    first = client.post("/v1/events", json=batch, headers=NORTH)
    assert first.json() == {"acknowledged": ["T-1", "NS-1", "AU-1"]}
    # A re-post (the sync agent retrying) is harmless, even with changed content.
    batch["events"][1]["data"] = {"changed": True}
    again = client.post("/v1/events", json=batch, headers=NORTH)
    assert again.json() == {"acknowledged": ["T-1", "NS-1", "AU-1"]}
    events = client.get(f"/v1/days/{DAY}", headers=NORTH).json()["events"]
    assert events == {"time_entry": 1, "no_sale": 1, "audit": 1, "day_close": 0}


def test_day_summary_adds_up_the_day(client: AppClient) -> None:
    post_checks(
        client,
        a_check("A1", status="closed", total=1000, tips=100,
                payments=[{"tender": "cash", "amount": 1100}]),
        a_check("B2", status="closed", total=2000, tips=0,
                payments=[{"tender": "cash", "amount": 500}, {"tender": "gift", "amount": 1500}]),
        a_check("C3", status="open", total=700),
        a_check("D4", business_day="2026-03-13", total=99999),
    )  # fmt: skip
    summary = client.get(f"/v1/days/{DAY}", headers=NORTH).json()
    assert summary["closed"] is False
    client.post("/v1/events", json={"events": [an_event("DC", "day_close")]}, headers=NORTH)
    summary = client.get(f"/v1/days/{DAY}", headers=NORTH).json()
    assert summary == {
        "business_day": DAY,
        "checks": 3,
        "open_checks": 1,
        "closed_checks": 2,
        "first_number": 1,
        "last_number": 3,
        "total": 3700,
        "tips": 100,
        "payments_by_tender": {"cash": 1600, "gift": 1500},
        "events": {"time_entry": 0, "no_sale": 0, "audit": 0, "day_close": 1},
        "closed": True,
    }


def test_day_summary_counts_a_time_entry_once_however_many_versions(client: AppClient) -> None:
    # The sync agent posts each version of a record as its own event: a shift is
    # time.T1.v1 at clock-in and time.T1.v2 at clock-out, and is one time entry.
    shift_in = {"staff": "ana", "clock_in": 1}
    shift_out = {"staff": "ana", "clock_in": 1, "clock_out": 2}
    events = [
        an_event("time.T1.v1", "time_entry", data=shift_in),
        an_event("time.T1.v2", "time_entry", data=shift_out),
        an_event("time.T2.v1", "time_entry", data=shift_in),
        an_event("time.T1.v20", "time_entry", data=shift_out),  # version 20, still T1
        an_event("time.T1.v", "time_entry"),  # no version number: its own record
        an_event("audit.A1.v1", "audit"),
        an_event("audit.A1.v2", "no_sale"),  # another kind: counted there
    ]
    response = client.post("/v1/events", json={"events": events}, headers=NORTH)
    assert response.status_code == 200, response.text
    summary = client.get(f"/v1/days/{DAY}", headers=NORTH).json()
    assert summary["events"] == {"time_entry": 3, "no_sale": 1, "audit": 1, "day_close": 0}


def test_empty_day_summary(client: AppClient) -> None:
    summary = client.get("/v1/days/2020-01-01", headers=NORTH).json()
    assert (summary["checks"], summary["first_number"], summary["closed"]) == (0, None, False)


def test_devices_are_recorded_and_refreshed(client: AppClient) -> None:
    devices = {"devices": [{"id": "T1", "name": "Bar", "role": "terminal"}, {"id": "K1"}]}
    response = client.post("/v1/devices", json=devices, headers=NORTH)
    assert response.json() == {"acknowledged": ["T1", "K1"]}
    refreshed = {"devices": [{"id": "T1", "name": "Bar 2", "role": "terminal", "data": {"v": 2}}]}
    client.post("/v1/devices", json=refreshed, headers=NORTH)
    listed = client.get("/v1/devices", headers=NORTH).json()["devices"]
    assert [(d["id"], d["name"], d["data"]) for d in listed] == [
        ("K1", None, {}),
        ("T1", "Bar 2", {"v": 2}),
    ]


# --- catalog -----------------------------------------------------------------------------


def test_catalog_versions_grow_only_on_change(client: AppClient) -> None:
    empty = client.get("/v1/catalog", headers=NORTH).json()
    assert empty == {"version": 0, "unchanged": True, "catalog": None}
    put = client.put("/v1/catalog", json={"catalog": a_catalog()}, headers=NORTH)
    assert put.json() == {"version": 1, "changed": True}
    same = client.put("/v1/catalog", json={"catalog": a_catalog()}, headers=NORTH)
    assert same.json() == {"version": 1, "changed": False}
    cheaper = client.put("/v1/catalog", json={"catalog": a_catalog(price=999)}, headers=NORTH)
    assert cheaper.json() == {"version": 2, "changed": True}

    full = client.get("/v1/catalog", headers=NORTH).json()
    assert full == {"version": 2, "unchanged": False, "catalog": a_catalog(price=999)}
    older = client.get("/v1/catalog", params={"since_version": 1}, headers=NORTH).json()
    assert older["catalog"] == a_catalog(price=999)
    current = client.get("/v1/catalog", params={"since_version": 2}, headers=NORTH).json()
    assert current == {"version": 2, "unchanged": True, "catalog": None}
    # A site claiming a version the cloud never made (restored elsewhere) gets the real one.
    ahead = client.get("/v1/catalog", params={"since_version": 9}, headers=NORTH).json()
    assert ahead["catalog"] == a_catalog(price=999)


def test_catalog_needs_the_expected_top_level_keys(client: AppClient) -> None:
    partial = a_catalog()
    del partial["tenders"]
    response = client.put("/v1/catalog", json={"catalog": partial}, headers=NORTH)
    assert_error(response, 422, "invalid_catalog")
    assert "tenders" in response.json()["error"]["message"]
    not_object = client.put("/v1/catalog", json={"catalog": [1, 2]}, headers=NORTH)
    assert_error(not_object, 422, "invalid_request")


# --- bad requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"checks": [',
        # Python reads these, JSON has none: a free-form field stored them as null.
        b'{"checks": [{"temp_id": "A1", "table": NaN}]}',
        b'{"checks": [{"temp_id": "A1", "table": -Infinity}]}',
        b"[" * 100_000 + b"]" * 100_000,  # the parser's recursion limit: was "bad_request"
        b'{"checks": "\xff\xfe"}',
    ],
    ids=["cut-off", "NaN", "-Infinity", "deep", "not-utf-8"],
)
def test_malformed_json_is_a_400(client: AppClient, body: bytes) -> None:
    headers = {**NORTH, "Content-Type": "application/json"}
    assert_error(client.post("/v1/checks", content=body, headers=headers), 400, "malformed_json")
    assert post_checks(client, a_check("FIRST"))[0]["number"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"checks": []},
        {"checks": "A1"},
        {"checks": [{"temp_id": "A1"}]},
        {"checks": [a_check("")]},
        {"checks": [a_check("has space")]},
        {"checks": [a_check("x" * 65)]},
        {"checks": [a_check("A1", total=12.5)]},
        {"checks": [a_check("A1", total="1250")]},
        {"checks": [a_check("A1", tips=-1)]},
        {"checks": [a_check("A1", opened_at="2026-03-14T18:00:00")]},
        # Unix times, as numbers or digit strings, are no RFC 3339 times (they were 200).
        {"checks": [a_check("A1", opened_at=1796377692)]},
        {"checks": [a_check("A1", opened_at="1796377692")]},
        {"checks": [a_check("A1", closed_at=0)]},
        {"checks": [a_check("A1", opened_at="2026-03-14T18:00+00:00")]},  # no seconds
        # Valid times that overflow once turned to UTC for storage (they were a 500).
        {"checks": [a_check("A1", opened_at="0001-01-01T00:00:00+05:00")]},
        {"checks": [a_check("A1", closed_at="9999-12-31T23:00:00-05:00")]},
        {"checks": [a_check("A1", business_day="14/03/2026")]},
        {"checks": [a_check("A1", business_day=20260314)]},
        {"checks": [a_check("A1", business_day="2026-03-14T00:00:00")]},
        {"checks": [a_check("A1", lines="burger")]},
        {"checks": [a_check(f"C{i}") for i in range(501)]},
        {"checks": [a_check("A1")], "extra": 1},
    ],
    ids=lambda body: json.dumps(body)[:40],
)
def test_wrong_check_shapes_are_422_and_number_nothing(
    client: AppClient, body: dict[str, Any]
) -> None:
    assert_error(client.post("/v1/checks", json=body, headers=NORTH), 422, "invalid_request")
    assert post_checks(client, a_check("FIRST"))[0]["number"] == 1


@pytest.mark.parametrize(
    "event",
    [
        an_event("E1", "refund"),
        an_event("E1", at="yesterday"),
        an_event("E1", at="0001-01-01T00:00:00+01:00"),
        an_event("E1", at=0),  # was stored as 1970-01-01
        an_event("E1", at="1796377692"),
        an_event("E1", business_day=None),
        an_event("E1", data=[1]),
        {"kind": "audit"},
    ],
)
def test_wrong_event_shapes_are_422(client: AppClient, event: dict[str, Any]) -> None:
    response = client.post("/v1/events", json={"events": [event]}, headers=NORTH)
    assert_error(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "at", ["2026-03-14T18:02:03Z", "2026-03-14t18:02:03.5z", "2026-03-14 19:02:03.123456+01:00"]
)
def test_every_rfc3339_form_of_a_time_is_taken(client: AppClient, at: str) -> None:
    assert post_checks(client, a_check("A1", opened_at=at, closed_at=at))[0]["number"] == 1
    response = client.post("/v1/events", json={"events": [an_event("E1", at=at)]}, headers=NORTH)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("day", ["2026-12-04T00:00:00", "2026-12-04T00:00:00Z", "20261204"])
def test_get_routes_refuse_a_business_day_as_post_does(client: AppClient, day: str) -> None:
    posted = client.post(
        "/v1/checks", json={"checks": [a_check("A1", business_day=day)]}, headers=NORTH
    )
    assert_error(posted, 422, "invalid_request")
    why = posted.json()["error"]["details"][0]["msg"]
    assert "YYYY-MM-DD" in why
    for response in (
        client.get(f"/v1/days/{day}", headers=NORTH),
        client.get("/v1/checks", params={"business_day": day}, headers=NORTH),
    ):
        assert_error(response, 422, "invalid_request")
        assert [d["msg"] for d in response.json()["error"]["details"]] == [why]


def test_bad_query_and_path_values_are_422(client: AppClient) -> None:
    for path, params in [
        ("/v1/checks", {"business_day": "soon"}),
        ("/v1/checks", {"limit": 0}),
        ("/v1/checks", {"after": -1}),
        ("/v1/catalog", {"since_version": "x"}),
        ("/v1/days/not-a-day", {}),
    ]:
        assert_error(client.get(path, params=params, headers=NORTH), 422, "invalid_request")


def test_non_json_body_is_a_415(client: AppClient) -> None:
    response = client.post(
        "/v1/checks", content=b"checks=A1", headers={**NORTH, "Content-Type": "text/plain"}
    )
    assert_error(response, 415, "unsupported_media_type")
    # JSON with no label at all: the label is what is wrong, not the body.
    unlabelled = client.post("/v1/checks", content=json.dumps({"checks": []}), headers=NORTH)
    assert_error(unlabelled, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in unlabelled.json()["error"]["message"]


def test_unknown_route_and_method_are_json(client: AppClient) -> None:
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.delete("/v1/checks", headers=NORTH), 405, "method_not_allowed")


def test_oversized_bodies_are_refused_before_parsing(cloud_app: CloudApp) -> None:
    small = create_app(make_session_factory(cloud_app.engine), max_body_bytes=2048)
    with AppClient(small) as client:
        big = {"checks": [a_check("A1", note="x" * 4096)]}
        assert_error(client.post("/v1/checks", json=big, headers=NORTH), 413, "request_too_large")

        # Streamed without a length, the limit still holds.
        async def chunks() -> AsyncIterator[bytes]:
            for chunk in (b'{"checks": [', b" " * 4096, b"]}"):
                yield chunk

        response = client.post(
            "/v1/checks", content=chunks(), headers={**NORTH, "Content-Type": "application/json"}
        )
        assert_error(response, 413, "request_too_large")
        assert post_checks(client, a_check("A1"))[0]["number"] == 1
    assert DEFAULT_MAX_BODY_BYTES >= 1024 * 1024


# --- admin: fault knob and sites ---------------------------------------------------------


def test_admin_routes_need_the_admin_token(client: AppClient) -> None:
    for headers in ({}, NORTH, bearer("wrong-admin-token-123456")):
        assert_error(client.get("/v1/admin/fault", headers=headers), 401, "unauthorized")
        response = client.put("/v1/admin/fault", json={"mode": "error"}, headers=headers)
        assert_error(response, 401, "unauthorized")
    assert client.get("/v1/health").status_code == 200


def test_admin_routes_do_not_exist_without_an_admin_token(cloud_app: CloudApp) -> None:
    with AppClient(create_app(make_session_factory(cloud_app.engine))) as client:
        assert_error(client.get("/v1/admin/fault", headers=ADMIN), 404, "not_found")


def test_fault_error_for_a_number_of_requests(client: AppClient) -> None:
    response = client.put("/v1/admin/fault", json={"mode": "error", "requests": 2}, headers=ADMIN)
    assert response.json()["mode"] == "error"
    assert_error(client.get("/v1/health"), 500, "injected_fault")
    posted = client.post("/v1/checks", json={"checks": [a_check("A1")]}, headers=NORTH)
    assert_error(posted, 500, "injected_fault")
    # The failed post numbered nothing: the next check is still number 1.
    assert client.get("/v1/health").status_code == 200
    assert post_checks(client, a_check("A1"))[0]["number"] == 1
    assert client.get("/v1/admin/fault", headers=ADMIN).json()["mode"] == "off"


def test_fault_unavailable_malformed_and_off(client: AppClient) -> None:
    client.put("/v1/admin/fault", json={"mode": "unavailable", "seconds": 60}, headers=ADMIN)
    response = client.get("/v1/health")
    assert_error(response, 503, "unavailable")
    assert response.headers["retry-after"] == "1"
    state = client.get("/v1/admin/fault", headers=ADMIN).json()
    assert state["mode"] == "unavailable" and 0 < state["seconds_left"] <= 60

    client.put("/v1/admin/fault", json={"mode": "malformed"}, headers=ADMIN)
    response = client.get("/v1/health")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)

    client.put("/v1/admin/fault", json={"mode": "off"}, headers=ADMIN)
    assert client.get("/v1/health").json() == {"ok": True}


def test_fault_delay_slows_answers_down(client: AppClient) -> None:
    client.put(
        "/v1/admin/fault", json={"mode": "delay", "delay_ms": 300, "requests": 1}, headers=ADMIN
    )
    started = time.monotonic()
    assert client.get("/v1/health").json() == {"ok": True}
    assert time.monotonic() - started >= 0.3


def test_fault_knob_rejects_bad_settings(client: AppClient) -> None:
    for body in (
        {"mode": "explode"},
        {"mode": "error", "seconds": 0},
        {"mode": "delay", "delay_ms": -1},
    ):
        response = client.put("/v1/admin/fault", json=body, headers=ADMIN)
        assert_error(response, 422, "invalid_request")


def test_admin_creates_sites_whose_tokens_work(client: AppClient) -> None:
    created = client.post("/v1/admin/sites", json={"name": "east"}, headers=ADMIN)
    assert created.status_code == 201
    token = created.json()["token"]
    assert post_checks(client, a_check("E1"), auth=bearer(token))[0]["number"] == 1
    again = client.post("/v1/admin/sites", json={"name": "east"}, headers=ADMIN)
    assert_error(again, 409, "site_conflict")
    stolen = client.post(
        "/v1/admin/sites", json={"name": "west", "token": NORTH_TOKEN}, headers=ADMIN
    )
    assert_error(stolen, 409, "site_conflict")
    spaced = client.post(
        "/v1/admin/sites", json={"name": "west", "token": "has spaces in it ok"}, headers=ADMIN
    )
    assert_error(spaced, 422, "invalid_site")
