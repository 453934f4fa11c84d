"""Business days: UTC offset, day-start hour, DST switches as data, closed days roll over."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mesh.ledger import queries
from mesh.ledger.business_day import business_day, civil_from_days, is_day_name
from tests.ledger.ledger_harness import Till


def ms(year: int, month: int, day: int, hour: int, minute: int) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


@settings(max_examples=300)
@given(st.integers(-719_162, 2_900_000))
def test_civil_dates_match_the_calendar(days: int) -> None:
    expected = date(1970, 1, 1) + timedelta(days=days)
    assert civil_from_days(days) == (expected.year, expected.month, expected.day)


def test_day_starts_at_the_day_start_hour_local() -> None:
    kw: dict[str, Any] = {"utc_offset_minutes": -300, "day_start_hour": 4}
    # 03:59 local on the 24th is still the 23rd's business day; 04:00 is the 24th's.
    assert business_day(ms(2025, 11, 24, 8, 59), **kw) == "2025-11-23"
    assert business_day(ms(2025, 11, 24, 9, 0), **kw) == "2025-11-24"
    # 23:00 local on the 23rd is already the 24th in UTC.
    assert business_day(ms(2025, 11, 24, 4, 0), **kw) == "2025-11-23"


def test_dst_switch_in_offset_changes_applies_from_its_instant() -> None:
    # New York leaves DST on 2025-11-02 at 06:00 UTC (02:00 EDT -> 01:00 EST).
    switch = ms(2025, 11, 2, 6, 0)
    kw: dict[str, Any] = {
        "utc_offset_minutes": -240,
        "day_start_hour": 4,
        "offset_changes": [[switch, -300]],
    }
    # 08:30 UTC: 04:30 EDT would be the 2nd, but it is 03:30 EST: still the 1st.
    assert business_day(ms(2025, 11, 2, 8, 30), **kw) == "2025-11-01"
    assert business_day(ms(2025, 11, 2, 9, 0), **kw) == "2025-11-02"
    before: dict[str, Any] = {"utc_offset_minutes": -240, "day_start_hour": 4}
    assert business_day(ms(2025, 11, 2, 8, 30), **before) == "2025-11-02"


def test_day_names() -> None:
    assert is_day_name("2025-11-23")
    assert not is_day_name("2025-13-01") and not is_day_name("23/11/2025")


def test_a_sale_belongs_to_the_day_of_its_stamped_time() -> None:
    till = Till(start_ms=ms(2025, 11, 24, 6, 0))  # 01:00 local, after midnight
    assert till.ok("open_check", check=till.new_check_id(), table="4")["business_day"] == (
        "2025-11-23"
    )


def test_after_close_day_new_sales_roll_into_the_next_day() -> None:
    till = Till(start_ms=ms(2025, 11, 24, 4, 0))  # 23:00 local on the 23rd
    till.ok("close_day", by="m-eve", day="2025-11-23")
    assert till.ok("open_check", check=till.new_check_id(), table="4")["business_day"] == (
        "2025-11-24"
    )


def test_a_second_close_day_closes_nothing_and_no_day_is_closed_before_it_begins() -> None:
    # A manager's double tap at 23:00: the second close must not close tomorrow (whose
    # sales would then roll into the day after it).
    till = Till(start_ms=ms(2025, 11, 24, 4, 0))  # 23:00 local on the 23rd
    till.ok("close_day", by="m-eve")
    again = till.err("conflict", "close_day", by="m-eve")
    assert again.message == "business day 2025-11-23 is already closed"
    assert till.err("invalid", "close_day", by="m-eve", day="2025-11-24")
    assert till.ok("open_check", check=till.new_check_id(), table="4")["business_day"] == (
        "2025-11-24"
    )
    assert till.err("invalid", "open_day", by="m-eve", day="2025-11-25")  # not begun
    assert till.ok("open_day", by="m-eve")["day"] == "2025-11-24"  # where sales now go
    gone = till.err("not_found", "close_day", by="m-eve", day="2025-01-01")
    assert gone.message == "nothing was sold on 2025-01-01: there is no such day to close"


def _late_sale(till: Till) -> str:
    """A table that pays and leaves after the manager closed the day early."""
    check = till.open()
    till.add(check, {"item": "burger"})
    till.ok("pay", check=check, tender="cash")
    till.ok("close_check", check=check)
    return check


def test_the_day_of_late_sales_after_an_early_close_can_be_closed_by_name() -> None:
    till = Till(start_ms=ms(2025, 11, 24, 4, 0))  # 23:00 local on the 23rd
    till.ok("close_day", by="m-eve")
    check = _late_sale(till)
    assert till.state.checks[check]["business_day"] == "2025-11-24"
    summary = queries.day_summary(till.state, now_ms=till.now, day="2025-11-24")
    assert summary["status"] == "open" and summary["sales"] == 2014
    # Still 23:00 on the 23rd by the calendar, but business has been filed into the 24th.
    closed = till.ok("close_day", by="m-eve", day="2025-11-24")
    assert closed["day"] == "2025-11-24" and closed["totals"]["sales"] == 2014
    assert till.state.days["2025-11-24"]["status"] == "closed"
    assert till.err("invalid", "close_day", by="m-eve", day="2025-11-25")  # nothing there


def test_close_day_without_a_day_closes_the_late_sales_day_but_not_an_empty_one() -> None:
    till = Till(start_ms=ms(2025, 11, 24, 4, 0))  # 23:00 local on the 23rd
    till.ok("close_day", by="m-eve")
    late = till.open()
    till.add(late, {"item": "burger"})
    # The late table is still eating: the second tap says so, it does not just refuse.
    still = till.err("open_checks", "close_day", by="m-eve")
    assert still.message == f"1 check is still open for 2025-11-24: {late}"
    till.ok("pay", check=late, tender="cash")
    till.ok("close_check", check=late)
    assert till.ok("close_day", by="m-eve")["day"] == "2025-11-24"
    # A double tap now closes nothing, and sales still go into the 25th, not later.
    again = till.err("conflict", "close_day", by="m-eve")
    assert again.message == "business day 2025-11-24 is already closed"
    assert till.ok("open_check", check=till.new_check_id(), table="4")["business_day"] == (
        "2025-11-25"
    )


def test_close_day_and_open_day_audit_records_are_filed_under_their_day() -> None:
    # Closed early: afterwards sales go into the 24th, but the close belongs to the 23rd.
    early = Till(start_ms=ms(2025, 11, 24, 4, 0))  # 23:00 local on the 23rd
    early.ok("close_day", by="m-eve")
    # Opened and closed late, at 10:00 on the 24th: both belong to the 23rd.
    late = Till(start_ms=ms(2025, 11, 24, 15, 0))
    late.ok("open_day", by="m-eve", day="2025-11-23")
    late.ok("close_day", by="m-eve", day="2025-11-23")
    for till, actions in ((early, ["close_day"]), (late, ["open_day", "close_day"])):
        on_23rd = [a["action"] for a in queries.audit_trail(till.state, day="2025-11-23")]
        on_24th = [a["action"] for a in queries.audit_trail(till.state, day="2025-11-24")]
        assert [a for a in on_23rd if a != "catalog_update"] == actions
        assert [a for a in on_24th if a != "catalog_update"] == []
