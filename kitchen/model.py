"""What a KDS shows, shaped from the node's replies: plain data, no Kivy, no rules.

Ticket states, item states and counts are the ledger's (``tickets``, ``query``);
this module only joins and labels them for drawing:

- names for ids (staff, stations) from the catalog, and the check's real number
  once the cloud gave one;
- on expo, which station has finished which line: an expo item whose line is
  still ``new`` on an open station ticket is pending there; once that station
  ticket is bumped (it leaves the open list) or the item on it is, it is done;
- each ticket's fingerprint, so the rail redraws only the cards that changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Reply = dict[str, Any]

NORMAL, WARN, LATE = "normal", "warn", "late"


@dataclass(frozen=True, slots=True)
class ItemView:
    line: str
    qty: int
    name: str
    modifiers: tuple[str, ...]
    note: str
    seat: int
    state: str  # the ledger's item state: new, bumped, voided
    station: str = ""  # expo only: the station that cooks it
    done: bool = False  # expo only: that station has bumped it


@dataclass(frozen=True, slots=True)
class TicketView:
    id: str
    check: str  # what to call the check: its number once known, else its temporary ID
    synced: bool  # the check label is the real number
    table: str
    server: str
    station: str
    course: int | None
    created_at: int
    items: tuple[ItemView, ...]
    expo: bool = False
    stations: tuple[tuple[str, bool], ...] = ()  # expo: (station name, done)
    bumped_at: int | None = None

    @property
    def has_void(self) -> bool:
        return any(item.state == "voided" for item in self.items)


@dataclass(slots=True)
class Catalog:
    station_names: dict[str, str] = field(default_factory=dict)
    expo_stations: frozenset[str] = frozenset()
    staff_names: dict[str, str] = field(default_factory=dict)
    item_station: dict[str, str] = field(default_factory=dict)
    loaded: bool = False

    @classmethod
    def from_reply(cls, reply: Reply) -> Catalog:
        raw = reply.get("catalog") or {}
        stations = raw.get("stations", {})
        return cls(
            station_names={sid: s.get("name", sid) for sid, s in stations.items()},
            expo_stations=frozenset(sid for sid, s in stations.items() if s.get("expo")),
            staff_names={sid: s.get("name", sid) for sid, s in raw.get("staff", {}).items()},
            item_station={iid: i.get("station", "") for iid, i in raw.get("items", {}).items()},
            loaded=bool(raw),
        )

    def station_name(self, station: str) -> str:
        return self.station_names.get(station, station.title())

    def is_expo(self, station: str) -> bool:
        return station in self.expo_stations or (not self.loaded and station == "expo")


def age_level(age_s: float, warn_after_s: float, late_after_s: float) -> str:
    if age_s >= late_after_s:
        return LATE
    if age_s >= warn_after_s:
        return WARN
    return NORMAL


def format_age(age_s: float) -> str:
    total = max(0, int(age_s))
    minutes, seconds = divmod(total, 60)
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}"
    return f"{minutes}:{seconds:02d}"


def _item(raw: Reply, **extra: Any) -> ItemView:
    return ItemView(
        line=raw["line"],
        qty=int(raw["qty"]),
        name=raw["name"],
        modifiers=tuple(raw.get("modifiers") or ()),
        note=raw.get("note") or "",
        seat=int(raw.get("seat") or 0),
        state=raw["state"],
        **extra,
    )


def ticket_views(
    station: str, tickets: list[Reply], catalog: Catalog, numbers: dict[str, int | None]
) -> list[TicketView]:
    """The cards of ``station``, oldest first, from open tickets (all stations' for expo)."""
    expo = catalog.is_expo(station)
    on_station: dict[str, tuple[str, str]] = {}  # line -> (station, item state) on open tickets
    if expo:
        for t in tickets:
            if not catalog.is_expo(t["station"]):
                for it in t["items"]:
                    on_station[it["line"]] = (t["station"], it["state"])
    views = []
    for t in tickets:
        if t["station"] != station:
            continue
        if expo:
            items = []
            for raw in t["items"]:
                where, state = on_station.get(
                    raw["line"], (catalog.item_station.get(raw["item"], ""), "bumped")
                )
                items.append(_item(raw, station=where, done=state != "new"))
            live = [i for i in items if i.station and i.state != "voided"]
            stations = tuple(
                (catalog.station_name(s), all(i.done for i in live if i.station == s))
                for s in sorted({i.station for i in live})
            )
        else:
            items = [_item(raw) for raw in t["items"]]
            stations = ()
        number = numbers.get(t["check"])
        views.append(
            TicketView(
                id=t["id"],
                check=str(number) if number is not None else t["check"],
                synced=number is not None,
                table=t["table"],
                server=str(catalog.staff_names.get(t["server"], t["server"])),
                station=t["station"],
                course=t.get("course"),
                created_at=int(t["created_at"]),
                items=tuple(items),
                expo=expo,
                stations=stations,
                bumped_at=t.get("bumped_at"),
            )
        )
    return views


def clock_offset_ms(tickets: list[Reply], local_ms: int) -> int | None:
    """The node's clock minus ours, from a ticket's ``created_at + age_ms`` (None if unknown)."""
    for t in tickets:
        if "age_ms" in t:
            return int(t["created_at"]) + int(t["age_ms"]) - local_ms
    return None


def cut_off(status: Reply | None) -> bool:
    """The node says it cannot reach a quorum (or did not answer at all)."""
    return status is None or status.get("dot") == "cut_off" or not status.get("in_quorum", False)
