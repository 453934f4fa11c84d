"""Kitchen rules: routing by station plus expo, bump, recall, all-day counts, 86."""

from __future__ import annotations

from mesh.ledger import queries
from tests.ledger.ledger_harness import MINUTE, Till


def fired_table(till: Till) -> tuple[str, dict[str, str]]:
    check = till.open()
    till.add(
        check,
        {"item": "ribeye", "modifiers": ["mod-rare"], "seat": 1},
        {"item": "fries", "seat": 1},
        {"item": "ipa", "qty": 2, "seat": 2},
        {"item": "caesar", "seat": 2},
    )
    tickets = till.ok("fire", check=check)["tickets"]
    by_station = {till.state.tickets[t]["station"]: t for t in tickets}
    return check, by_station


def test_fire_routes_each_item_to_its_station_plus_expo() -> None:
    till = Till()
    _check, tickets = fired_table(till)
    assert sorted(tickets) == ["bar", "cold", "expo", "fry", "grill"]
    grill = queries.tickets(till.state, station="grill")
    assert [i["name"] for i in grill[0]["items"]] == ["Ribeye 14oz"]
    assert grill[0]["items"][0]["modifiers"] == ["Rare"]
    expo = till.state.tickets[tickets["expo"]]
    assert len(expo["items"]) == 4


def test_ticket_age_is_relative_to_the_callers_now() -> None:
    till = Till()
    fired_table(till)
    (grill,) = queries.tickets(till.state, station="grill", now_ms=till.now + 5 * MINUTE)
    assert grill["age_ms"] == 5 * MINUTE


def test_bump_one_item_then_the_rest_bumps_the_ticket() -> None:
    till = Till()
    _check, tickets = fired_table(till)
    expo = till.state.tickets[tickets["expo"]]
    first = expo["items"][0]["line"]
    assert till.ok("bump", by="k-dev", ticket=expo["id"], line=first)["status"] == "open"
    assert till.err("conflict", "bump", by="k-dev", ticket=expo["id"], line=first)
    assert till.err("not_found", "bump", by="k-dev", ticket=expo["id"], line="L99")
    for item in expo["items"][1:]:
        till.ok("bump", by="k-dev", ticket=expo["id"], line=item["line"])
    assert expo["status"] == "bumped"
    assert till.err("conflict", "bump", by="k-dev", ticket=expo["id"])


def test_bump_whole_ticket_and_recall_within_the_window() -> None:
    till = Till()
    _check, tickets = fired_table(till)
    grill = tickets["grill"]
    till.ok("bump", by="k-dev", ticket=grill)
    assert queries.tickets(till.state, station="grill") == []
    assert [t["id"] for t in queries.recently_bumped(till.state, station="grill")] == [grill]
    till.ok("recall", by="k-dev", ticket=grill)
    (back,) = queries.tickets(till.state, station="grill")
    assert back["items"][0]["state"] == "new"
    assert till.err("conflict", "recall", by="k-dev", ticket=grill)
    till.ok("bump", by="k-dev", ticket=grill)
    late = till.err("conflict", "recall", by="k-dev", ticket=grill, advance_ms=31 * MINUTE)
    assert "more than 30 minutes ago" in late.message
    assert till.err("not_found", "bump", by="k-dev", ticket="K999")


def test_only_kitchen_bar_and_managers_bump() -> None:
    till = Till()
    _check, tickets = fired_table(till)
    assert till.err("forbidden", "bump", by="s-ana", ticket=tickets["grill"])
    till.ok("bump", by="b-cleo", ticket=tickets["bar"])


def test_all_day_counts_leave_out_bumped_voided_and_the_expo_copy() -> None:
    till = Till()
    check, tickets = fired_table(till)
    _other, _ = fired_table(till)
    counts = queries.all_day_counts(till.state)
    assert counts["House IPA"] == 4 and counts["Ribeye 14oz"] == 2
    till.ok("bump", by="k-dev", ticket=tickets["grill"])
    line = till.state.checks[check]["lines"][1]["id"]  # the fries
    till.ok("void_item", by="m-eve", check=check, line=line, reason="dropped")
    counts = queries.all_day_counts(till.state)
    assert counts["Ribeye 14oz"] == 1 and counts["Fries"] == 1
    assert queries.all_day_counts(till.state, station="bar") == {"House IPA": 4}


def test_no_line_is_ever_on_two_tickets_of_one_station() -> None:
    till = Till()
    check, _ = fired_table(till)
    till.add(check, {"item": "ribeye"})
    till.ok("fire", check=check)
    seen = [(t["station"], i["line"]) for t in till.state.tickets.values() for i in t["items"]]
    assert len(seen) == len(set(seen))


def test_eighty_six_rules() -> None:
    till = Till()
    till.ok("eighty_six", by="k-dev", item="salmon", available=False)
    assert till.err("conflict", "eighty_six", by="k-dev", item="salmon", available=False)
    assert till.err("not_found", "eighty_six", by="k-dev", item="unicorn", available=False)
    assert till.err("forbidden", "eighty_six", by="s-ana", item="fries", available=False)
    assert queries.overview(till.state, now_ms=till.now)["eighty_six"] == ["salmon"]


def test_tickets_show_the_real_number_once_the_cloud_gives_it() -> None:
    till = Till()
    check, _ = fired_table(till)
    assert {t["number"] for t in queries.tickets(till.state)} == {None}
    till.ok("check_numbered", by="@sync", check=check, number=77)
    assert {t["number"] for t in queries.tickets(till.state)} == {77}
