"""Refire: fired lines cooked again on new tickets, marked as such; what it refuses."""

from __future__ import annotations

from mesh.ledger import queries
from tests.ledger.ledger_harness import MINUTE, Till
from tests.ledger.test_ledger_kitchen import fired_table


def lines_of(till: Till, check: str) -> dict[str, str]:
    """Item id -> line id on ``check``."""
    return {line["item"]: line["id"] for line in till.state.checks[check]["lines"]}


def test_refire_makes_new_station_and_expo_tickets_marked_as_refires() -> None:
    till = Till()
    check, originals = fired_table(till)
    lines = lines_of(till, check)
    result = till.ok(
        "refire",
        by="s-ana",
        check=check,
        lines=[lines["fries"], lines["ribeye"]],
        reason="sent back: overcooked",
    )
    # Lines in check order, tickets by station id then expo, as a fire lists them.
    assert result["lines"] == [lines["ribeye"], lines["fries"]]
    made = [till.state.tickets[t] for t in result["tickets"]]
    assert [t["station"] for t in made] == ["fry", "grill", "expo"]
    for ticket in made:
        assert ticket["refire"] is True
        assert ticket["refire_reason"] == "sent back: overcooked"
        assert ticket["status"] == "open" and ticket["course"] is None
        assert {i["state"] for i in ticket["items"]} == {"new"}
    assert made[0]["refire_of"] == [originals["fry"]]
    assert made[1]["refire_of"] == [originals["grill"]]
    assert made[2]["refire_of"] == [originals["expo"]]
    assert [i["name"] for i in made[2]["items"]] == ["Ribeye 14oz", "Fries"]
    # The lines stay fired once (no second fire time) and list their new tickets.
    ribeye = till.state.checks[check]["lines"][0]
    assert ribeye["status"] == "fired"
    assert ribeye["tickets"][-2:] == [made[1]["id"], made[2]["id"]]
    audit = queries.audit_trail(till.state, check=check)[-1]
    assert audit["action"] == "refire" and "Ribeye 14oz" in audit["detail"]


def test_the_original_tickets_are_untouched_and_bumping_works_as_usual() -> None:
    till = Till()
    check, originals = fired_table(till)
    till.ok("bump", by="k-dev", ticket=originals["grill"])
    ribeye = lines_of(till, check)["ribeye"]
    (grill, _expo) = till.ok("refire", by="k-dev", check=check, lines=[ribeye], reason="dropped")[
        "tickets"
    ]
    assert till.state.tickets[originals["grill"]]["status"] == "bumped"
    assert [t["id"] for t in queries.tickets(till.state, station="grill")] == [grill]
    till.ok("bump", by="k-dev", ticket=grill)
    assert queries.tickets(till.state, station="grill") == []


def test_a_second_refire_names_the_original_not_the_first_refire() -> None:
    till = Till()
    check, originals = fired_table(till)
    ribeye = lines_of(till, check)["ribeye"]
    till.ok("refire", by="s-ana", check=check, lines=[ribeye], reason="too rare")
    again = till.ok("refire", by="s-ana", check=check, lines=[ribeye], reason="dropped")
    grill = till.state.tickets[again["tickets"][0]]
    assert grill["refire_of"] == [originals["grill"]]
    assert grill["refire_reason"] == "dropped"


def test_a_void_after_a_refire_strikes_the_line_on_the_refire_tickets_too() -> None:
    till = Till()
    check, _ = fired_table(till)
    ribeye = lines_of(till, check)["ribeye"]
    made = till.ok("refire", by="s-ana", check=check, lines=[ribeye], reason="dropped")["tickets"]
    till.ok("void_item", by="m-eve", check=check, line=ribeye, reason="guest left")
    for ticket_id in made:
        assert [i["state"] for i in till.state.tickets[ticket_id]["items"]] == ["voided"]


def test_refire_refuses_voided_unfired_unknown_lines_and_closed_checks() -> None:
    till = Till()
    check, _ = fired_table(till)
    lines = lines_of(till, check)
    till.ok("void_item", by="m-eve", check=check, line=lines["caesar"], reason="no")
    err = till.err(
        "conflict", "refire", check=check, lines=[lines["ribeye"], lines["caesar"]], reason="x"
    )
    assert "voided" in err.message and "Caesar" in err.message
    (cake,) = till.add(check, {"item": "cake"})
    err = till.err("conflict", "refire", check=check, lines=[cake], reason="x")
    assert "has not been fired" in err.message
    err = till.err("not_found", "refire", check=check, lines=["L999"], reason="x")
    assert "no line L999" in err.message
    assert till.err("not_found", "refire", check="7QK-5D", lines=[lines["ribeye"]], reason="x")
    # A line of another check is unknown on this one.
    other, _ = fired_table(till)
    other_line = lines_of(till, other)["ribeye"]
    assert till.err("not_found", "refire", check=check, lines=[other_line], reason="x")
    closed = till.open(table="4")
    (soda,) = till.add(closed, {"item": "soda"})
    till.ok("fire", check=closed)
    till.ok("void_item", by="m-eve", check=closed, line=soda, reason="spilled")
    till.ok("close_check", check=closed)
    err = till.err("check_closed", "refire", check=closed, lines=[soda], reason="x")
    assert "is closed" in err.message


def test_refire_parsing_is_strict() -> None:
    till = Till()
    check, _ = fired_table(till)
    ribeye = lines_of(till, check)["ribeye"]
    assert till.err("invalid", "refire", check=check, lines=[], reason="x")
    assert till.err("invalid", "refire", check=check, lines=[ribeye, ribeye], reason="x")
    assert till.err("invalid", "refire", check=check, lines=[3], reason="x")
    assert till.err("invalid", "refire", check=check, lines=[ribeye])
    assert till.err("invalid", "refire", check=check, lines=[ribeye], reason="x", course=1)
    assert till.err("forbidden", "refire", by="@sync", check=check, lines=[ribeye], reason="x")


def test_a_duplicate_refire_id_makes_no_second_set_of_tickets() -> None:
    till = Till()
    check, _ = fired_table(till)
    ribeye = lines_of(till, check)["ribeye"]
    first = till.submit("refire", cid="refire-1", check=check, lines=[ribeye], reason="dropped")
    count = len(till.state.tickets)
    again = till.submit("refire", cid="refire-1", check=check, lines=[ribeye], reason="dropped")
    assert again.duplicate and again.result == first.result
    assert len(till.state.tickets) == count


def test_ticket_views_carry_item_stations_and_refire_marks() -> None:
    till = Till()
    check, originals = fired_table(till)
    views = {t["id"]: t for t in queries.tickets(till.state)}
    expo = views[originals["expo"]]
    assert [i["station"] for i in expo["items"]] == ["grill", "fry", "bar", "cold"]
    assert [i["station"] for i in views[originals["grill"]]["items"]] == ["grill"]
    assert expo["refire"] is False and expo["refire_of"] == [] and expo["refire_reason"] is None
    ribeye = lines_of(till, check)["ribeye"]
    grill, _ = till.ok("refire", by="s-ana", check=check, lines=[ribeye], reason="cold")["tickets"]
    (view,) = [t for t in queries.tickets(till.state, station="grill") if t["id"] == grill]
    assert view["refire"] is True and view["refire_reason"] == "cold"
    assert view["refire_of"] == [originals["grill"]]
    # The record of an ordinary ticket holds no refire fields: older snapshots hash the same.
    assert "refire" not in till.state.tickets[originals["grill"]]


def test_item_stations_follow_lines_a_split_moved_to_another_check() -> None:
    till = Till()
    check, originals = fired_table(till)
    till.ok("split_check", check=check, parts=[{"new_check": till.new_check_id(), "seats": [2]}])
    (expo,) = [t for t in queries.tickets(till.state) if t["id"] == originals["expo"]]
    assert [i["station"] for i in expo["items"]] == ["grill", "fry", "bar", "cold"]


def test_recently_bumped_leaves_out_tickets_past_the_recall_window() -> None:
    till = Till()
    _check, tickets = fired_table(till)
    till.ok("bump", by="k-dev", ticket=tickets["grill"])
    bumped_at = till.now
    inside = queries.recently_bumped(till.state, station="grill", now_ms=bumped_at + 30 * MINUTE)
    assert [t["id"] for t in inside] == [tickets["grill"]]
    assert inside[0]["age_ms"] >= 30 * MINUTE
    late = bumped_at + 30 * MINUTE + 1
    assert queries.recently_bumped(till.state, station="grill", now_ms=late) == []
    # Without a clock the list is as before: the last bumped, whatever their age.
    assert len(queries.recently_bumped(till.state, station="grill")) == 1
