"""A realistic sample catalog for a 60-seat grill, for tests, the demo and site set-up.

The site set-up commits it as a ``catalog_update`` (by ``@setup``). PIN hashes
are made by the caller (argon2 with a random salt belongs to the device, not to
the pure ledger): pass ``{staff_id: pin_hash}``; staff without one get ``None``
and cannot log in until the cloud sends a hash.

Nothing starts 86'd; the ribeye is the one the tests and the demo run out of
(``eighty_six`` by the kitchen, or a catalog with ``"eighty_six": ["ribeye"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SAMPLE_STAFF_ROLES: dict[str, tuple[str, str]] = {
    "s-ana": ("Ana", "server"),
    "s-ben": ("Ben", "server"),
    "b-cleo": ("Cleo", "bartender"),
    "k-dev": ("Dev", "kitchen"),
    "m-eve": ("Eve", "manager"),
}


def sample_catalog(
    pin_hashes: Mapping[str, str] | None = None, *, version: int = 0
) -> dict[str, Any]:
    """The sample menu, staff, tenders and site settings (UTC-5, day starts 04:00)."""
    hashes = dict(pin_hashes or {})

    def item(
        name: str,
        category: str,
        price: int,
        station: str,
        tax: str | None = "food",
        modifiers: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        return {
            "name": name,
            "category": category,
            "price": price,
            "station": station,
            "tax": tax,
            "modifiers": list(modifiers),
        }

    temps = ("mod-rare", "mod-mrare", "mod-medium", "mod-well")
    return {
        "version": version,
        "site": {
            "name": "The Copper Grill",
            "currency": "USD",
            "decimals": 2,
            "utc_offset_minutes": -300,
            "day_start_hour": 4,
            "offset_changes": [],
        },
        "taxes": {
            # Rates are whole basis points, so the name shows the rate charged
            # (8.88 %), not a rate they cannot express (New York's 8.875 %).
            "food": {"name": "Sales tax 8.88%", "rate_bp": 888, "inclusive": False},
            "alcohol": {"name": "Liquor tax 10% (in price)", "rate_bp": 1000, "inclusive": True},
        },
        "stations": {
            "grill": {"name": "Grill"},
            "fry": {"name": "Fry"},
            "cold": {"name": "Cold / salads"},
            "bar": {"name": "Bar"},
            "expo": {"name": "Expo", "expo": True},
        },
        "categories": {
            "starters": {"name": "Starters"},
            "mains": {"name": "Mains"},
            "sides": {"name": "Sides"},
            "desserts": {"name": "Desserts"},
            "drinks": {"name": "Drinks"},
        },
        "modifiers": {
            "mod-rare": {"name": "Rare", "price": 0},
            "mod-mrare": {"name": "Medium rare", "price": 0},
            "mod-medium": {"name": "Medium", "price": 0},
            "mod-well": {"name": "Well done", "price": 0},
            "mod-bacon": {"name": "Add bacon", "price": 250},
            "mod-cheese": {"name": "Add cheddar", "price": 150},
            "mod-noonion": {"name": "No onion", "price": 0},
            "mod-gf-bun": {"name": "Gluten-free bun", "price": 200},
            "mod-truffle": {"name": "Truffle oil", "price": 300},
            "mod-double": {"name": "Make it a double", "price": 600},
            "mod-rocks": {"name": "On the rocks", "price": 0},
        },
        "items": {
            "wings": item("Buffalo wings", "starters", 1295, "fry", modifiers=("mod-noonion",)),
            "calamari": item("Fried calamari", "starters", 1450, "fry"),
            "caesar": item("Caesar salad", "starters", 1100, "cold", modifiers=("mod-bacon",)),
            "burrata": item("Burrata", "starters", 1600, "cold", modifiers=("mod-truffle",)),
            "ribeye": item("Ribeye 14oz", "mains", 4200, "grill", modifiers=temps),
            "burger": item(
                "Copper burger",
                "mains",
                1850,
                "grill",
                modifiers=(*temps, "mod-bacon", "mod-cheese", "mod-noonion", "mod-gf-bun"),
            ),
            "salmon": item("Grilled salmon", "mains", 2900, "grill"),
            "chicken": item("Half chicken", "mains", 2400, "grill"),
            "fries": item("Fries", "sides", 600, "fry", modifiers=("mod-truffle",)),
            "greens": item("Side greens", "sides", 700, "cold"),
            "cake": item("Chocolate cake", "desserts", 1100, "cold"),
            "sundae": item("Sundae", "desserts", 950, "cold"),
            "ipa": item("House IPA", "drinks", 800, "bar", tax="alcohol"),
            "wine": item("Glass of red", "drinks", 1300, "bar", tax="alcohol"),
            "old-fashioned": item(
                "Old fashioned",
                "drinks",
                1500,
                "bar",
                tax="alcohol",
                modifiers=("mod-double", "mod-rocks"),
            ),
            "soda": item("Soda", "drinks", 350, "bar"),
            "water": item("Still water", "drinks", 0, "bar", tax=None),
        },
        "eighty_six": [],
        "staff": {
            sid: {"name": name, "role": role, "pin_hash": hashes.get(sid), "active": True}
            for sid, (name, role) in SAMPLE_STAFF_ROLES.items()
        },
        "tenders": {
            "cash": {"name": "Cash", "kind": "cash", "requires_cloud": False},
            "voucher": {"name": "House voucher", "kind": "custom", "requires_cloud": False},
            "card": {"name": "Card", "kind": "card", "requires_cloud": True},
            "gift": {"name": "Gift card", "kind": "gift_card", "requires_cloud": True},
            "account": {"name": "House account", "kind": "on_account", "requires_cloud": True},
        },
    }
