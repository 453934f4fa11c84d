"""What the kitchen tests order: a realistic table through the terminal's client API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mesh.client.api import ControlClient
from mesh.node.site_setup import DeviceSpec

KITCHEN_STAFF = "k-dev"
MANAGER = "m-eve"


def devices(kds: dict[str, str]) -> list[DeviceSpec]:
    """Three terminals (the voters) and the named KDS devices with their stations."""
    terminals = [DeviceSpec(name=f"n{i}") for i in (1, 2, 3)]
    screens = [DeviceSpec(name=n, role="kds", station=s) for n, s in kds.items()]
    return terminals + screens


def bump_without_login(data_dir: Path, staff: str = KITCHEN_STAFF) -> None:
    (data_dir / "kitchen.json").write_text(json.dumps({"default_staff": staff}))


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply.get("ok"), reply
    outcome: dict[str, Any] = reply["outcome"]
    return outcome


def open_check(client: ControlClient, table: str, server: str = "s-ana") -> str:
    reply = client.submit(
        {"type": "open_check", "by": server, "table": table, "guests": 2, "server": server}
    )
    check: str = ok(reply)["check"]
    return check


def order(client: ControlClient, check: str, items: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = ok(
        client.submit({"type": "add_items", "by": "s-ana", "check": check, "items": items})
    )["lines"]
    return lines


def fire(client: ControlClient, check: str, **extra: Any) -> list[str]:
    tickets: list[str] = ok(
        client.submit({"type": "fire", "by": "s-ana", "check": check, **extra})
    )["tickets"]
    return tickets


TABLE_12 = [
    {
        "item": "ribeye",
        "qty": 1,
        "seat": 1,
        "modifiers": ["mod-mrare"],
        "note": "sauce on the side",
    },
    {"item": "burger", "qty": 2, "seat": 2, "modifiers": ["mod-bacon", "mod-noonion"]},
    {"item": "fries", "qty": 2, "seat": 2},
    {"item": "ipa", "qty": 2},
]


GRILL_ORDERS: list[list[dict[str, Any]]] = [
    [{"item": "ribeye", "seat": 1, "modifiers": ["mod-mrare"], "note": "sauce on the side"},
     {"item": "fries", "qty": 2}, {"item": "ipa", "qty": 2}],
    [{"item": "burger", "qty": 2, "seat": 2, "modifiers": ["mod-medium", "mod-bacon"]},
     {"item": "caesar", "seat": 1}],
    [{"item": "salmon", "seat": 3, "note": "no butter, allergy"}, {"item": "greens"}],
    [{"item": "chicken", "qty": 1}, {"item": "burger", "modifiers": ["mod-well", "mod-gf-bun"]},
     {"item": "wings"}, {"item": "old-fashioned", "modifiers": ["mod-double"]}],
    [{"item": "ribeye", "qty": 2, "modifiers": ["mod-rare"]}, {"item": "wine", "qty": 2}],
    [{"item": "burger", "seat": 4, "modifiers": ["mod-cheese", "mod-noonion"]},
     {"item": "fries", "modifiers": ["mod-truffle"]}],
]  # fmt: skip


def fire_table(client: ControlClient, table: str, n: int) -> str:
    """Open a check at ``table`` and fire the ``n``-th of the grill orders above."""
    check = open_check(client, table, server=("s-ana", "s-ben")[n % 2])
    order(client, check, GRILL_ORDERS[n % len(GRILL_ORDERS)])
    fire(client, check)
    return check
