"""Which business day a stamped time belongs to: UTC offset plus day-start hour.

Rules
- A business day runs from ``day_start_hour`` local time to the same hour the next
  day (e.g. 04:00 to 04:00), so the 01:30 bar tab belongs to the night before.
- Local time is UTC plus an offset in minutes. The catalog's site settings carry
  ``utc_offset_minutes`` and optionally ``offset_changes``: ``[[from_ms, minutes],
  ...]``, the coming DST switches published by the cloud. The offset in force at
  a time is the last change at or before it, else ``utc_offset_minutes``. Because
  the switches are data in the committed log, every node agrees on the day even
  when a switch happens offline; the leader's sync refreshes the list whenever the
  cloud is reachable. No time zone database is read: the ledger stays pure.
- Days are named ``YYYY-MM-DD`` (the local calendar date the day started on).

No ``datetime`` here: the civil date is computed from the day number (Howard
Hinnant's ``civil_from_days``), so nothing in the ledger can reach a clock.
"""

from __future__ import annotations

from collections.abc import Sequence

MS_PER_MINUTE = 60_000
MS_PER_HOUR = 3_600_000
MS_PER_DAY = 86_400_000


def offset_at(time_ms: int, default_minutes: int, changes: Sequence[Sequence[int]]) -> int:
    """The UTC offset (minutes) in force at ``time_ms``."""
    minutes = default_minutes
    best = None
    for from_ms, change_minutes in changes:
        if from_ms <= time_ms and (best is None or from_ms >= best):
            best, minutes = from_ms, change_minutes
    return minutes


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of the ``days``-th day after 1970-01-01 (proleptic Gregorian)."""
    z = days + 719_468
    era = (z if z >= 0 else z - 146_096) // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def business_day_number(
    time_ms: int,
    *,
    utc_offset_minutes: int,
    day_start_hour: int,
    offset_changes: Sequence[Sequence[int]] = (),
) -> int:
    offset = offset_at(time_ms, utc_offset_minutes, offset_changes)
    local_ms = time_ms + offset * MS_PER_MINUTE
    return (local_ms - day_start_hour * MS_PER_HOUR) // MS_PER_DAY


def day_name(day_number: int) -> str:
    y, m, d = civil_from_days(day_number)
    return f"{y:04d}-{m:02d}-{d:02d}"


def business_day(
    time_ms: int,
    *,
    utc_offset_minutes: int,
    day_start_hour: int,
    offset_changes: Sequence[Sequence[int]] = (),
) -> str:
    """The ``YYYY-MM-DD`` business day of the stamped ``time_ms``."""
    return day_name(
        business_day_number(
            time_ms,
            utc_offset_minutes=utc_offset_minutes,
            day_start_hour=day_start_hour,
            offset_changes=offset_changes,
        )
    )


def is_day_name(s: str) -> bool:
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        return False
    if not s.isascii():  # str.isdigit takes "¹", which int() does not
        return False
    y, m, d = s[:4], s[5:7], s[8:]
    return y.isdigit() and m.isdigit() and d.isdigit() and 1 <= int(m) <= 12 and 1 <= int(d) <= 31
