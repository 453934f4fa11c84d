"""Posting checks: the first sight of a temporary id fixes its check number for good.

Rules:
- numbers are per site, start at 1 and have no gaps: the counter lives on the site's
  row and is only raised inside the transaction that inserts the check;
- a temporary id keeps its number forever: later posts update the content only;
- a post carrying a lower ``revision`` than the stored one never overwrites newer
  content (a retried old batch arriving late), but still answers the number.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.models import Check
from cloud.schemas import CheckIn, CheckNumber
from cloud.sites import lock_site


def post_checks(session: Session, site_id: int, checks: list[CheckIn]) -> list[CheckNumber]:
    """Number new checks and update known ones; one result per posted check, in order."""
    # The lock comes first so that the lookup below sees every number committed before.
    site = lock_site(session, site_id)
    wanted = {posted.temp_id for posted in checks}
    known = {
        row.temp_id: row
        for row in session.scalars(
            select(Check).where(Check.site_id == site_id, Check.temp_id.in_(wanted))
        )
    }
    results: list[CheckNumber] = []
    for posted in checks:
        row = known.get(posted.temp_id)
        created = row is None
        if row is None:
            site.last_check_number += 1
            row = Check(
                site_id=site_id, temp_id=posted.temp_id, number=site.last_check_number, revision=0
            )
            session.add(row)
            known[posted.temp_id] = row
            _store_content(row, posted)
        elif posted.revision is None or posted.revision >= row.revision:
            _store_content(row, posted)
        results.append(CheckNumber(temp_id=row.temp_id, number=row.number, created=created))
    session.flush()
    return results


def _store_content(row: Check, posted: CheckIn) -> None:
    row.business_day = posted.business_day
    row.status = posted.status
    row.opened_at = posted.opened_at
    row.closed_at = posted.closed_at
    row.total = posted.total
    row.tips = posted.tips
    if posted.revision is not None:
        row.revision = posted.revision
    row.document = posted.model_dump(mode="json")
    row.updated_at = utcnow()
