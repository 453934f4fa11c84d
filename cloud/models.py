"""The back office's tables: sites, devices, catalog versions, checks and events.

Every row below ``Site`` carries a ``site_id`` and every query filters on it: one
site can never see another's data. Client-made ids (temporary check ids, event ids,
device ids) are unique per site, which is what makes re-posting harmless.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, IntPK, JSONDocument, Money, Name, ShortText, utcnow


class Site(Base):
    """One restaurant. Its bearer token is kept only as a SHA-256 digest."""

    __tablename__ = "sites"

    id: Mapped[IntPK]
    name: Mapped[Name] = mapped_column(unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The last check number handed out; the next check gets this plus one.
    last_check_number: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Device(Base):
    """A terminal, kitchen screen or hub a site has reported."""

    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("site_id", "device_id"),)

    id: Mapped[IntPK]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    device_id: Mapped[ShortText]
    name: Mapped[Name | None]
    role: Mapped[ShortText | None]
    data: Mapped[JSONDocument]
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CatalogVersion(Base):
    """One published catalog (site, items, staff, tenders, ...); versions only grow."""

    __tablename__ = "catalog_versions"
    __table_args__ = (UniqueConstraint("site_id", "version"),)

    id: Mapped[IntPK]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    version: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))
    document: Mapped[JSONDocument]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Check(Base):
    """A posted check: its number is fixed on first sight of its temporary id."""

    __tablename__ = "checks"
    __table_args__ = (
        UniqueConstraint("site_id", "temp_id"),
        UniqueConstraint("site_id", "number"),
        Index("ix_checks_site_id_business_day", "site_id", "business_day"),
    )

    id: Mapped[IntPK]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    temp_id: Mapped[ShortText]
    number: Mapped[int]
    business_day: Mapped[dt.date]
    status: Mapped[ShortText]
    opened_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    total: Mapped[Money]
    tips: Mapped[Money]
    revision: Mapped[int] = mapped_column(default=0)
    document: Mapped[JSONDocument]
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Event(Base):
    """A time entry, no-sale, audit event or day close; immutable once received."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("site_id", "event_id"),
        Index("ix_events_site_id_business_day", "site_id", "business_day"),
    )

    id: Mapped[IntPK]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    event_id: Mapped[ShortText]
    kind: Mapped[ShortText]
    at: Mapped[dt.datetime]
    business_day: Mapped[dt.date]
    data: Mapped[JSONDocument]
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
