"""All day: how many of each item are still to cook, as the ledger counts them."""

from __future__ import annotations

from kivy.properties import ListProperty, StringProperty
from kivy.uix.screenmanager import Screen

from kitchen.screens import load_kv

load_kv(__file__)


class AllDayScreen(Screen):  # type: ignore[misc]  # Kivy ships no type hints
    rows = ListProperty([])  # [{"name": ..., "count": "3"}] for the RecycleView
    title = StringProperty("All day")
    total_text = StringProperty("")

    def set_counts(self, counts: dict[str, int]) -> None:
        rows = [{"name": name, "count": str(qty)} for name, qty in counts.items()]
        if rows != self.rows:
            self.rows = rows
        self.total_text = (
            f"{sum(counts.values())} items on open tickets" if counts else "Nothing to cook"
        )
