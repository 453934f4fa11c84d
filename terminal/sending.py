"""Lines a server added that the site has not acknowledged yet, shown as *sending*.

No Kivy here, so it is tested without a window. A tapped item's line is put on the
check at once, greyed and marked SENDING (with no amount: prices, taxes and totals
are the ledger's), where the ledger will put it: at the end of its seat and course.
It leaves the list as soon as the check read from the node holds the ledger's own
line, so the row turns into the real one in place:

- acknowledged: the outcome names the ledger's line ids; the row goes when a read
  of the check shows them (or, at the latest, ``ACKNOWLEDGED_KEEP_S`` later);
- a read shows the new line before the answer reached the screen: a line the last
  read did not have, with the same item, quantity, seat, course, modifiers, note
  and server, takes the place of the sending row;
- refused (an 86'd item, a closed check): the row goes, the refusal is said in words;
- not acknowledged (no quorum, a timeout): the row stays, marked NOT CONFIRMED, until
  Retry sends the very same command again (then SENDING once more).

Nothing here decides anything about the sale: a sending row is only what was tapped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ACKNOWLEDGED_KEEP_S = 1.0  # s an acknowledged row waits for a read showing its line

SENDING = "sending"
UNCONFIRMED = "unconfirmed"


@dataclass
class _Row:
    order: dict[str, Any]  # the add_items order: item, qty, seat, course, modifiers, note
    by: str
    line: dict[str, Any]  # what the list shows: a line-like mapping for present.line_rows
    state: str = SENDING
    line_ids: tuple[str, ...] | None = None  # the ledger's, once acknowledged
    acknowledged_at: float | None = None


def _signature(
    item: Any, qty: Any, seat: Any, course: Any, modifiers: Iterable[Any], note: Any, by: Any
) -> tuple[Any, ...]:
    return (str(item), int(qty), int(seat), int(course), tuple(modifiers), str(note or ""), by)


@dataclass
class SendingLines:
    _rows: dict[str, _Row] = field(default_factory=dict)  # command id -> row, in tap order

    def add(
        self, command_id: str, order: Mapping[str, Any], by: str, catalog: Mapping[str, Any]
    ) -> None:
        """Show ``order`` (one add_items order) at once, as sending."""
        items = catalog.get("items") or {}
        mods = catalog.get("modifiers") or {}
        modifiers = [
            {"id": m, "name": str((mods.get(m) or {}).get("name", m))}
            for m in order.get("modifiers") or []
        ]
        line = {
            "id": "",
            "item": order["item"],
            "name": str((items.get(order["item"]) or {}).get("name", order["item"])),
            "qty": int(order.get("qty", 1)),
            "seat": int(order.get("seat", 0)),
            "course": int(order.get("course", 1)),
            "modifiers": modifiers,
            "note": str(order.get("note") or ""),
            "status": SENDING,
        }
        self._rows[command_id] = _Row(dict(order), by, line)

    def lines(self) -> list[dict[str, Any]]:
        """The rows to show after the check's own lines, each marked by its state."""
        return [{**row.line, "status": row.state} for row in self._rows.values()]

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, command_id: object) -> bool:
        return command_id in self._rows

    def acknowledged(
        self,
        command_id: str,
        outcome: Mapping[str, Any] | None,
        shown: Mapping[str, Any],
        now: float,
    ) -> bool:
        """The site applied ``command_id``; True if its row left the list (its line is shown)."""
        row = self._rows.get(command_id)
        if row is None:
            return False
        ids = (outcome or {}).get("lines")
        if not isinstance(ids, list) or not ids:
            # No line ids to wait for: nothing to show in place of the row.
            del self._rows[command_id]
            return True
        row.line_ids = tuple(str(i) for i in ids)
        row.acknowledged_at = now
        row.state = SENDING
        if set(row.line_ids) <= _line_ids(shown):
            del self._rows[command_id]
            return True
        return False

    def refused(self, command_id: str) -> bool:
        """The ledger said no: the row goes (the refusal is shown in words)."""
        return self._rows.pop(command_id, None) is not None

    def unconfirmed(self, command_id: str) -> bool:
        """Not acknowledged: the row stays, marked so, until Retry."""
        return self._mark(command_id, UNCONFIRMED)

    def resent(self, command_id: str) -> bool:
        """Retry sent the same command again: sending once more."""
        return self._mark(command_id, SENDING)

    def _mark(self, command_id: str, state: str) -> bool:
        """True if the row's look changed."""
        row = self._rows.get(command_id)
        if row is None or row.state == state:
            return False
        row.state = state
        return True

    def shown(self, check: Mapping[str, Any], before: Mapping[str, Any], now: float) -> bool:
        """A read of the check is about to be shown (``before``: the one shown until now).

        Drops every row whose line it holds; True if any row was dropped.
        """
        if not self._rows:
            return False
        dropped = self.overdue(now)
        have, known = _line_ids(check), _line_ids(before)
        # New lines since the last read; none before a first read, when every line is.
        lines = check.get("lines") or [] if before.get("id") else []
        fresh = [ln for ln in lines if str(ln.get("id")) not in known]
        for command_id, row in list(self._rows.items()):
            if row.line_ids is not None:
                landed = set(row.line_ids) <= have
            else:  # the read came before the answer: a new line just like the row's
                match = self._match(row, fresh)
                landed = match is not None
                if match is not None:
                    fresh.remove(match)
            if landed:
                del self._rows[command_id]
                dropped = True
        return dropped

    def overdue(self, now: float) -> bool:
        """Drop acknowledged rows no read has shown within ``ACKNOWLEDGED_KEEP_S``."""
        dropped = False
        for command_id, row in list(self._rows.items()):
            if row.acknowledged_at is not None and now - row.acknowledged_at > ACKNOWLEDGED_KEEP_S:
                del self._rows[command_id]
                dropped = True
        return dropped

    def clear(self) -> None:
        self._rows.clear()

    @staticmethod
    def _match(row: _Row, fresh: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        o = row.order
        want = _signature(
            o["item"], o.get("qty", 1), o.get("seat", 0), o.get("course", 1),
            o.get("modifiers") or [], o.get("note"), row.by,
        )  # fmt: skip
        for line in fresh:
            got = _signature(
                line.get("item"), line.get("qty", 0), line.get("seat", 0), line.get("course", 1),
                [m.get("id") for m in line.get("modifiers") or []], line.get("note"),
                line.get("added_by"),
            )  # fmt: skip
            if got == want:
                return line
        return None


def _line_ids(check: Mapping[str, Any]) -> set[str]:
    return {str(line.get("id")) for line in check.get("lines") or []}
