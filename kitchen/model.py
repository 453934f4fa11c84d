"""What a KDS shows, shaped from the node's replies: plain data, no Kivy, no rules.

Ticket states, item states and counts are the ledger's (``tickets``, ``query``);
so are each ticket's check ``number`` (once the cloud gave one), each item's
``station`` and a refire's mark and reason. This module only labels them for
drawing:

- names for ids (staff, stations) from the catalog;
- on expo, which station has finished which line: an expo item whose line is
  still ``new`` on an open station ticket is pending there; once that station
  ticket is bumped (it leaves the open list) or the item on it is, it is done.
  A refire's expo ticket follows the refire's station tickets, the original expo
  ticket the original ones: the same line is cooking again only on the refire;
- which recalled tickets the ledger would still take back (``recallable``);
- a refire's command and, when the ledger refuses one, why in a cook's words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Reply = dict[str, Any]

NORMAL, WARN, LATE = "normal", "warn", "late"
# The ledger's recall window (``RECALL_WINDOW_MS`` in the ledger's rules): the node
# answers the recall list without its clock, so older bumps are left out here.
RECALL_WINDOW_MS = 30 * 60_000


@dataclass(frozen=True, slots=True)
class ItemView:
    line: str
    qty: int
    name: str
    modifiers: tuple[str, ...]
    note: str
    seat: int
    state: str  # the ledger's item state: new, bumped, voided
    station: str = ""  # expo only: the station that cooks it (where a cook's own is implied)
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
    refire: bool = False  # the ledger's refire ticket: these lines are cooked again
    refire_reason: str = ""
    check_id: str = ""  # the ledger's id of the check, which commands name (``check`` is a label)

    @property
    def has_void(self) -> bool:
        return any(item.state == "voided" for item in self.items)


@dataclass(slots=True)
class Catalog:
    station_names: dict[str, str] = field(default_factory=dict)
    expo_stations: frozenset[str] = frozenset()
    staff_names: dict[str, str] = field(default_factory=dict)
    loaded: bool = False

    @classmethod
    def from_reply(cls, reply: Reply) -> Catalog:
        raw = reply.get("catalog") or {}
        stations = raw.get("stations", {})
        return cls(
            station_names={sid: s.get("name", sid) for sid, s in stations.items()},
            expo_stations=frozenset(sid for sid, s in stations.items() if s.get("expo")),
            staff_names={sid: s.get("name", sid) for sid, s in raw.get("staff", {}).items()},
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


def ticket_views(station: str, tickets: list[Reply], catalog: Catalog) -> list[TicketView]:
    """The cards of ``station``, oldest first, from open tickets (all stations' for expo)."""
    expo = catalog.is_expo(station)
    # (line, on a refire) -> item state on open station tickets; a later refire wins.
    on_station: dict[tuple[str, bool], str] = {}
    if expo:
        for t in tickets:
            if not catalog.is_expo(t["station"]):
                for it in t["items"]:
                    on_station[it["line"], bool(t.get("refire"))] = it["state"]
    views = []
    for t in tickets:
        if t["station"] != station:
            continue
        refire = bool(t.get("refire"))
        if expo:
            items = []
            for raw in t["items"]:
                state = on_station.get((raw["line"], refire), "bumped")
                items.append(_item(raw, station=raw.get("station", ""), done=state != "new"))
            live = [i for i in items if i.station and i.state != "voided"]
            stations = tuple(
                (catalog.station_name(s), all(i.done for i in live if i.station == s))
                for s in sorted({i.station for i in live})
            )
        else:
            items = [_item(raw) for raw in t["items"]]
            stations = ()
        number = t.get("number")
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
                refire=refire,
                refire_reason=str(t.get("refire_reason") or ""),
                check_id=t["check"],
            )
        )
    return views


def recallable(views: list[TicketView], node_now_ms: int) -> list[TicketView]:
    """The recall list without tickets the ledger would refuse to recall by now."""
    return [
        v for v in views if v.bumped_at is None or node_now_ms - v.bumped_at <= RECALL_WINDOW_MS
    ]


def clock_offset_ms(tickets: list[Reply], local_ms: int) -> int | None:
    """The node's clock minus ours, from a ticket's ``created_at + age_ms`` (None if unknown)."""
    for t in tickets:
        if "age_ms" in t:
            return int(t["created_at"]) + int(t["age_ms"]) - local_ms
    return None


def cut_off(status: Reply | None) -> bool:
    """The node says it cannot reach a quorum (or did not answer at all)."""
    return status is None or status.get("dot") == "cut_off" or not status.get("in_quorum", False)


# What a cook taps to say why a dish is cooked again; the ledger stores the words.
REFIRE_REASONS: tuple[str, ...] = ("dropped", "wrong temp", "sent back", "other")
# The ledger's refusals, as a cook would put them (a lost link: the app's REFUSALS).
REFIRE_REFUSALS = {
    "check_closed": "Not refired: the check is already closed. Ask the server.",
    "not_found": "Not refired: this check or item no longer exists. Ask the server.",
    "forbidden": "Not refired: your login may not refire. Ask a manager.",
}
_LINE_REF = re.compile(r"line \S+ \('([^']*)'\)")


def refirable(item: ItemView) -> bool:
    """A voided item is not cooked again (the ledger refuses it); anything else fired is."""
    return item.state != "voided"


def refire_command(
    view: TicketView, lines: list[str], reason: str, by: str, command_id: str
) -> dict[str, Any]:
    """The ledger's ``refire`` for ``lines`` of ``view``, in the ticket's order."""
    chosen = set(lines)
    ordered = [i.line for i in view.items if i.line in chosen]
    return {"type": "refire", "id": command_id, "by": by, "check": view.check_id,
            "lines": ordered, "reason": reason}  # fmt: skip


def refire_summary(view: TicketView, lines: list[str]) -> str:
    """``1 Ribeye 14oz, 2 Fries``: what a refire cooks again, as the ticket names it."""
    chosen = set(lines)
    return ", ".join(f"{i.qty} {i.name}" for i in view.items if i.line in chosen)


def refire_refusal(error: Reply) -> str | None:
    """Words for a ledger refusal of a refire (None: not a refusal the ledger made)."""
    code = str(error.get("code", ""))
    if code in REFIRE_REFUSALS:
        return REFIRE_REFUSALS[code]
    if code == "conflict":  # "line L4 ('Caesar') is voided: ...": the cook knows no line ids
        return "Not refired: " + _LINE_REF.sub(r"\1", str(error.get("message", "")))
    return None
