"""The KDS's data shaping (no window): names, expo's per-station progress, ageing, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kitchen import keys
from kitchen.model import (
    LATE,
    NORMAL,
    RECALL_WINDOW_MS,
    WARN,
    Catalog,
    age_level,
    clock_offset_ms,
    cut_off,
    format_age,
    recallable,
    refire_command,
    refire_refusal,
    refire_summary,
    ticket_views,
)
from kitchen.settings import KitchenSettings, SettingsError, load_settings, node_station
from mesh.ledger.sample_catalog import sample_catalog

CATALOG = Catalog.from_reply({"catalog": sample_catalog()})


STATION_OF = {"ipa": "bar", "ribeye": "grill", "fries": "fry", "caesar": "cold"}


def item(line: str, name: str, item_id: str, state: str = "new", qty: int = 1) -> dict[str, Any]:
    return {"line": line, "item": item_id, "name": name, "qty": qty, "modifiers": [],
            "note": "", "seat": 0, "course": 1, "station": STATION_OF[item_id],
            "state": state}  # fmt: skip


def ticket(
    tid: str, station: str, items: list[dict[str, Any]], number: int | None = None, **extra: Any
) -> dict[str, Any]:
    return {"id": tid, "check": "A1-1V", "number": number, "table": "12", "server": "s-ana",
            "station": station, "course": None, "status": "open", "created_at": 1_000,
            "bumped_at": None, "refire": False, "refire_of": [], "refire_reason": None,
            "items": items, "age_ms": 4_000, **extra}  # fmt: skip


TICKETS = [
    ticket("K1", "bar", [item("L3", "House IPA", "ipa", qty=2)]),
    ticket("K2", "grill", [item("L1", "Ribeye 14oz", "ribeye", "bumped")], number=1042),
    ticket("K4", "expo", [item("L1", "Ribeye 14oz", "ribeye"), item("L2", "Fries", "fries"),
                          item("L3", "House IPA", "ipa", qty=2),
                          item("L5", "Caesar salad", "caesar", "voided")]),
]  # fmt: skip


def test_a_station_sees_its_own_tickets_with_names_and_the_check_number() -> None:
    (view,) = ticket_views("grill", TICKETS, CATALOG)
    assert (view.id, view.server, view.check, view.synced) == ("K2", "Ana", "1042", True)
    assert [(i.name, i.state) for i in view.items] == [("Ribeye 14oz", "bumped")]
    assert not view.refire
    (view,) = ticket_views("bar", TICKETS, CATALOG)
    assert (view.check, view.synced) == ("A1-1V", False)


def test_expo_sees_which_station_is_done() -> None:
    # The fry ticket was bumped (it left the open list); the grill bumped its item;
    # the bar has not; the voided salad counts for no station.
    (view,) = ticket_views("expo", TICKETS, CATALOG)
    done = {i.name: (i.station, i.done) for i in view.items}
    assert done["Ribeye 14oz"] == ("grill", True)
    assert done["Fries"] == ("fry", True)
    assert done["House IPA"] == ("bar", False)
    assert view.stations == (("Bar", False), ("Fry", True), ("Grill", True))
    assert view.has_void


def test_a_refire_is_marked_and_expo_follows_the_refire_station_ticket() -> None:
    refire = {"refire": True, "refire_of": ["K2"], "refire_reason": "sent back: cold"}
    tickets = [
        *TICKETS,
        ticket("K6", "grill", [item("L1", "Ribeye 14oz", "ribeye")], **refire),
        ticket("K7", "expo", [item("L1", "Ribeye 14oz", "ribeye")],
               **{**refire, "refire_of": ["K4"]}),
    ]  # fmt: skip
    original, again = ticket_views("grill", tickets, CATALOG)
    assert (original.refire, again.refire) == (False, True)
    assert again.refire_reason == "sent back: cold"
    expo, expo_again = ticket_views("expo", tickets, CATALOG)
    # The original ribeye was bumped on the grill; its refire is cooking again.
    assert expo.stations == (("Bar", False), ("Fry", True), ("Grill", True))
    assert expo_again.refire and expo_again.stations == (("Grill", False),)


def test_a_refire_names_the_check_id_and_the_lines_in_ticket_order() -> None:
    (expo,) = ticket_views("expo", TICKETS, CATALOG)
    assert (expo.check, expo.check_id) == ("A1-1V", "A1-1V")
    (grill,) = ticket_views("grill", TICKETS, CATALOG)
    assert (grill.check, grill.check_id) == ("1042", "A1-1V")  # commands name the id
    command = refire_command(expo, ["L3", "L1"], "dropped", "k-dev", "kds-refire-1")
    assert command == {"type": "refire", "id": "kds-refire-1", "by": "k-dev",
                       "check": "A1-1V", "lines": ["L1", "L3"], "reason": "dropped"}  # fmt: skip
    assert refire_summary(expo, ["L3", "L1"]) == "1 Ribeye 14oz, 2 House IPA"


def test_a_refused_refire_is_said_without_line_ids() -> None:
    voided = {"code": "conflict", "message": "line L4 ('Caesar') is voided: nothing to refire"}
    assert refire_refusal(voided) == "Not refired: Caesar is voided: nothing to refire"
    assert refire_refusal({"code": "check_closed", "message": "closed"}) == (
        "Not refired: the check is already closed. Ask the server."
    )
    assert refire_refusal({"code": "timeout", "message": "..."}) is None  # not the ledger's


def test_the_recall_list_leaves_out_bumps_past_the_window() -> None:
    bumped = [ticket("K2", "grill", [item("L1", "Ribeye 14oz", "ribeye", "bumped")],
                     status="bumped", bumped_at=10_000)]  # fmt: skip
    views = ticket_views("grill", bumped, CATALOG)
    assert [v.id for v in recallable(views, 10_000 + RECALL_WINDOW_MS)] == ["K2"]
    assert recallable(views, 10_001 + RECALL_WINDOW_MS) == []


def test_ageing_and_clock_offset() -> None:
    assert [age_level(s, 300, 480) for s in (0, 299, 300, 479, 480)] == [
        NORMAL, NORMAL, WARN, WARN, LATE]  # fmt: skip
    assert [format_age(s) for s in (0, 61.9, 3600 + 125)] == ["0:00", "1:01", "1h02"]
    assert clock_offset_ms(TICKETS, local_ms=4_500) == 500
    assert clock_offset_ms([], local_ms=1) is None


def test_cut_off_is_read_from_the_status() -> None:
    assert cut_off(None)
    assert cut_off({"dot": "cut_off", "in_quorum": False})
    assert cut_off({"dot": "red", "in_quorum": False})
    assert not cut_off({"dot": "red", "in_quorum": True})


def test_settings(tmp_path: Path) -> None:
    assert load_settings(tmp_path) == KitchenSettings()
    (tmp_path / "kitchen.json").write_text(json.dumps({"warn_after_s": 60, "late_after_s": 90}))
    assert load_settings(tmp_path).late_after_s == 90
    (tmp_path / "kitchen.json").write_text(json.dumps({"warn_after_s": 90, "late_after_s": 60}))
    with pytest.raises(SettingsError):
        load_settings(tmp_path)
    (tmp_path / "kitchen.json").write_text(json.dumps({"colour": "red"}))
    with pytest.raises(SettingsError, match="unknown keys"):
        load_settings(tmp_path)
    assert load_settings(tmp_path.parent / "none").draw_priority == "realtime"
    (tmp_path / "kitchen.json").write_text(json.dumps({"draw_priority": "normal"}))
    assert load_settings(tmp_path).draw_priority == "normal"
    (tmp_path / "kitchen.json").write_text(json.dumps({"draw_priority": "fast"}))
    with pytest.raises(SettingsError, match="draw_priority must be one of realtime, normal"):
        load_settings(tmp_path)
    assert node_station({"ok": True}) is None  # an older node's status
    assert node_station({"device": {"station": None}}) is None
    assert node_station({"device": {"station": "walk-in"}}) is None
    assert node_station({"device": {"role": "kitchen", "station": "fry"}}) == "fry"


def test_bump_bar_keys() -> None:
    assert keys.action("rail", 178, "²") is None  # a digit to str.isdigit, not a bump
    assert keys.action("login", 178, "²") == ("ignore", None)
    assert keys.action("rail", 51, "3") == ("bump", 3)
    assert keys.action("recall", 49, "1") == ("recall", 1)
    assert keys.action("login", 49, "1") == ("pin", "1")
    assert keys.action("login", 97, "a") == ("ignore", None)  # a PIN pad types no letters
    assert keys.action("all_day", keys.ESCAPE, None) == ("show", "rail")
    assert keys.action("rail", keys.RIGHT, None) == ("turn", 1)
    assert keys.action("rail", 97, "a") == ("toggle", "all_day")
    assert keys.action("rail", 122, "z") is None
