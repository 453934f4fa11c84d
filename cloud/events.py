"""Receiving a site's events (time entries, no-sales, audit events, day closes) and devices.

Events are immutable: the first post of an id is kept and a re-post is acknowledged
without change, so a sync agent may resend a whole batch after any failure.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.models import Device, Event
from cloud.schemas import DeviceIn, EventIn
from cloud.sites import lock_site


def post_events(session: Session, site_id: int, events: list[EventIn]) -> list[str]:
    """Store the events not seen before; returns every posted id, in order, once each."""
    lock_site(session, site_id)
    ids = [event.id for event in events]
    seen = set(
        session.scalars(
            select(Event.event_id).where(Event.site_id == site_id, Event.event_id.in_(ids))
        )
    )
    acknowledged: list[str] = []
    for event in events:
        if event.id not in seen:
            session.add(
                Event(
                    site_id=site_id,
                    event_id=event.id,
                    kind=event.kind,
                    at=event.at,
                    business_day=event.business_day,
                    data=event.model_dump(mode="json")["data"],
                )
            )
            seen.add(event.id)
        if event.id not in acknowledged:
            acknowledged.append(event.id)
    session.flush()
    return acknowledged


def post_devices(session: Session, site_id: int, devices: list[DeviceIn]) -> list[str]:
    """Record or refresh the devices a site reports; the latest report wins."""
    lock_site(session, site_id)
    ids = [device.id for device in devices]
    known = {
        row.device_id: row
        for row in session.scalars(
            select(Device).where(Device.site_id == site_id, Device.device_id.in_(ids))
        )
    }
    now = utcnow()
    acknowledged: list[str] = []
    for device in devices:
        row = known.get(device.id)
        if row is None:
            row = Device(site_id=site_id, device_id=device.id, first_seen_at=now)
            session.add(row)
            known[device.id] = row
        row.name = device.name
        row.role = device.role
        row.data = device.model_dump(mode="json")["data"]
        row.last_seen_at = now
        if device.id not in acknowledged:
            acknowledged.append(device.id)
    session.flush()
    return acknowledged
