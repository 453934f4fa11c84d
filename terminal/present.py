"""How the node's answers are shown: money, check labels, line rows, colours by stage.

Pure functions over the JSON the node returns (no Kivy, no I/O), so they are
tested without a window. Nothing here decides a total, a balance or whether a
command is allowed: those come from the ledger; this only lays them out.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from terminal.sending import SENDING, UNCONFIRMED

CURRENCY_SYMBOLS = {"USD": "$", "CAD": "$", "AUD": "$", "EUR": "€", "GBP": "£"}

# The stage a check is at, for its colour on the floor (see ``check_stage``).
STAGE_OPEN = "open"
STAGE_FIRED = "fired"
STAGE_PAYING = "paying"
STAGE_CLOSED = "closed"
TIMES = "\u00d7"  # the multiplication sign, as in "2 (times) House IPA"


def money(minor: int | None, site: Mapping[str, Any] | None = None) -> str:
    """``4573`` -> ``$45.73`` (decimals and currency from the catalog's ``site``)."""
    if minor is None:
        return ""
    decimals = int((site or {}).get("decimals", 2))
    currency = str((site or {}).get("currency", "USD"))
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 10**decimals) if decimals else (abs(minor), 0)
    body = f"{units:,}" + (f".{cents:0{decimals}d}" if decimals else "")
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}"


def parse_keyed_amount(digits: str) -> int:
    """Keypad entry is typed in minor units, like a till: ``"2000"`` is 20.00."""
    clean = "".join(ch for ch in digits if "0" <= ch <= "9")
    return int(clean) if clean else 0


def quick_cash(balance: int, site: Mapping[str, Any] | None = None, count: int = 4) -> list[int]:
    """The exact balance, then the next round notes above it (what guests hand over)."""
    decimals = int((site or {}).get("decimals", 2))
    unit = 10**decimals
    out = [balance] if balance > 0 else []
    for note in (5, 10, 20, 50, 100):
        step = note * unit
        above = (balance // step + 1) * step
        if above not in out and len(out) < count:
            out.append(above)
    return sorted(out)


def check_label(check: Mapping[str, Any]) -> str:
    """The number once the cloud gave one, else the temporary ID."""
    number = check.get("number")
    return f"#{number}" if number is not None else str(check.get("id", ""))


def not_synced(check: Mapping[str, Any]) -> bool:
    """The temporary ID is shown with a mark until the real number arrives."""
    return check.get("number") is None


def check_stage(check: Mapping[str, Any]) -> str:
    """Open (still ordering), fired (in the kitchen), paying (money taken, some may be due).

    Reads the detail's lines and totals when given, else only the summary.
    """
    if check.get("status") == "closed":
        return STAGE_CLOSED
    totals = check.get("totals") or {}
    paid = int(totals.get("paid", 0))
    if paid > 0 or (check.get("total", 0) and check.get("balance") == 0):
        return STAGE_PAYING
    lines = [ln for ln in check.get("lines") or [] if ln.get("status") != "voided"]
    if lines and all(ln.get("status") == "fired" for ln in lines):
        return STAGE_FIRED
    return STAGE_OPEN


def staff_name(staff_id: str | None, catalog: Mapping[str, Any] | None) -> str:
    if not staff_id:
        return ""
    member = ((catalog or {}).get("staff") or {}).get(staff_id)
    return str(member["name"]) if member else staff_id


def seat_label(seat: int) -> str:
    return "Table" if seat == 0 else f"Seat {seat}"


def line_rows(
    lines: Iterable[Mapping[str, Any]],
    site: Mapping[str, Any] | None = None,
    selected: str | None = None,
) -> list[dict[str, Any]]:
    """Rows for the check's list: a header per (seat, course), then its lines.

    Each row is the data of one list view row: ``kind`` (``header`` or ``line``),
    ``text`` (markup), ``amount`` and, for lines, ``line_id`` and ``selected``.
    """
    groups: dict[tuple[int, int], list[Mapping[str, Any]]] = {}
    for line in lines:
        groups.setdefault((int(line.get("seat", 0)), int(line.get("course", 1))), []).append(line)
    rows: list[dict[str, Any]] = []
    for seat, course in sorted(groups):
        rows.append(
            {
                "kind": "header",
                "text": f"{seat_label(seat)}  ·  Course {course}",
                "amount": "",
                "line_id": "",
                "selected": False,
            }
        )
        for line in groups[(seat, course)]:
            rows.append(_line_row(line, site, selected))
    return rows


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("[", "&bl;").replace("]", "&br;")


def _line_row(
    line: Mapping[str, Any], site: Mapping[str, Any] | None, selected: str | None
) -> dict[str, Any]:
    voided = line.get("status") == "voided" or line.get("void") is not None
    comped = line.get("comp") is not None
    name = _escape(str(line.get("name", line.get("item", ""))))
    text = f"{line.get('qty', 1)} {TIMES} {name}"
    status = line.get("status")
    pending = status in (SENDING, UNCONFIRMED)  # tapped here, not acknowledged yet
    text += {
        SENDING: "  [color=#b8c4d0][size=14sp]SENDING…[/size][/color]",
        UNCONFIRMED: "  [color=#ffd27a][size=14sp]NOT CONFIRMED[/size][/color]",
        "new": "  [color=#8fb8ff][size=14sp]NEW[/size][/color]",
        "fired": "  [color=#f0a64a][size=14sp]FIRED[/size][/color]",
    }.get(str(status), "")
    details = [_escape(str(m.get("name", m))) for m in line.get("modifiers") or []]
    if line.get("note"):
        details.append(f"[i]“{_escape(str(line['note']))}”[/i]")
    if details:
        text += "\n[size=15sp][color=#b8c4d0]   " + ", ".join(details) + "[/color][/size]"
    if pending:  # no amount: that is the ledger's, once it has the line (terminal/sending.py)
        return {"kind": "pending", "text": text, "amount": "", "line_id": "", "selected": False}
    amount = money(int(line.get("amount", 0)), site)
    if comped:
        text += "  [color=#7ee2a8][size=14sp]COMP[/size][/color]"
        amount = f"[s]{amount}[/s]"
    if voided:
        text = f"[s]{text}[/s]  [color=#ff8080][size=14sp]VOID[/size][/color]"
        amount = f"[s]{amount}[/s]"
    return {
        "kind": "line",
        "text": text,
        "amount": amount,
        "line_id": str(line.get("id", "")),
        "selected": selected is not None and line.get("id") == selected,
    }


def seats_of(lines: Iterable[Mapping[str, Any]]) -> list[int]:
    """The seats that have something not voided on them (for a split by seat)."""
    return sorted({int(ln.get("seat", 0)) for ln in lines if ln.get("status") != "voided"})


def receipt_text(check: Mapping[str, Any], catalog: Mapping[str, Any] | None) -> str:
    """A plain-text receipt from the check's detail (every figure is the ledger's)."""
    site = (catalog or {}).get("site") or {}
    width = 38
    out = [str(site.get("name", "")).center(width), ""]
    out.append(f"Check {check_label(check)}   Table {check.get('table', '')}")
    out.append(f"Server {staff_name(check.get('server'), catalog)}   Guests {check.get('guests')}")
    out.append("-" * width)
    for line in check.get("lines") or []:
        if line.get("status") == "voided":
            continue
        left = f"{line.get('qty', 1)} {line.get('name', '')}"[: width - 11]
        amount = "COMP" if line.get("comp") else money(int(line.get("amount", 0)), site)
        out.append(f"{left:<{width - 11}}{amount:>11}")
        for mod in line.get("modifiers") or []:
            out.append(f"   {mod.get('name', '')}"[:width])
    totals = check.get("totals") or {}
    out.append("-" * width)
    # "Tax" is what was added on top (so Subtotal + Tax = Total); the tax already
    # inside prices (liquor) is printed after, as the law wants it shown.
    for label, key in (("Subtotal", "subtotal"), ("Tax", "tax_added"), ("Total", "total")):
        out.append(f"{label:<{width - 12}}{money(int(totals.get(key, 0)), site):>12}")
    if int(totals.get("tax", 0)) != int(totals.get("tax_added", 0)):
        out.append(
            f"{'  All tax incl. in prices':<{width - 12}}{money(int(totals['tax']), site):>12}"
        )
    for pay in check.get("payments") or []:
        tender = ((catalog or {}).get("tenders") or {}).get(pay.get("tender"), {})
        name = str(tender.get("name", pay.get("tender")))
        out.append(f"{name:<{width - 12}}{money(int(pay.get('amount', 0)), site):>12}")
        if pay.get("tip"):
            out.append(f"{'  Tip':<{width - 12}}{money(int(pay['tip']), site):>12}")
        if pay.get("change"):
            out.append(f"{'  Change':<{width - 12}}{money(int(pay['change']), site):>12}")
    out.append(f"{'Balance':<{width - 12}}{money(int(totals.get('balance', 0)), site):>12}")
    if not_synced(check):
        out += ["", "Not synced yet: the check number", "follows when the cloud is reached."]
    return "\n".join(out)


def expiry_text(expires_ms: int | float, ttl_s: int | float) -> str:
    """How long an enrolment code lasts and until when (the device's local clock)."""
    until = time.strftime("%H:%M", time.localtime(expires_ms / 1000))
    minutes = max(1, round(float(ttl_s) / 60))
    return f"Valid for {minutes} min, until {until}"


def age_text(ms: int | float | None) -> str:
    if ms is None:
        return "—"
    seconds = int(ms / 1000)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


# -- the status dot and the panel behind it ---------------------------------------
DOT_WORDS = {
    "green": "Online",
    "amber": "Syncing",
    "red": "Offline: selling continues",
    "cut_off": "Cut off from the other devices",
    "starting": "Starting",
}


def dot_caption(dot: str, cloud: Mapping[str, Any] | None) -> str:
    """The words beside the dot; amber says how many records wait (``status.cloud.backlog``)."""
    if dot == "amber":
        return f"Syncing: {int((cloud or {}).get('backlog') or 0)} waiting"
    return DOT_WORDS.get(dot, dot)


def clock_of(ms: int | float) -> str:
    """A stamped time (ms since the epoch) as this device's wall clock, to the second."""
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


def last_sync_text(last_sync_ms: object, now_ms: float) -> str:
    """When the leader's agent last had records acknowledged by the cloud, and how long ago.

    The age uses this device's clock against the leader's stamp: a few seconds of
    skew between devices can only shorten it, never make it negative.
    """
    if not isinstance(last_sync_ms, int | float) or isinstance(last_sync_ms, bool):
        return "none since the leading device took over"
    return f"{clock_of(last_sync_ms)} ({age_text(max(0.0, now_ms - last_sync_ms))} ago)"


def unsynced_text(count: object, oldest_age_ms: object) -> str:
    """What waits for the cloud (``state.unsynced``) and the age of the oldest change."""
    if not isinstance(count, int) or count <= 0:
        return "nothing"
    noun = "record" if count == 1 else "records"
    age = oldest_age_ms if isinstance(oldest_age_ms, int | float) else None
    return f"{count} {noun}, the oldest {age_text(age)} old"


def cloud_text(cloud: Mapping[str, Any]) -> str:
    """The cloud as the leading device sees it, in a manager's words."""
    state = str(cloud.get("cloud", "unknown"))
    if state == "none":
        return "no cloud is configured for this site"
    if state == "up":
        backlog = int(cloud.get("backlog") or 0)
        return f"reachable, uploading {backlog}" if backlog else "reachable, all uploaded"
    if state == "down":
        return "unreachable: sales are kept and uploaded when it answers"
    return "not known yet (no answer from the leading device)"


def lan_text(status: Mapping[str, Any]) -> str:
    """Whether this device is in the quorum (its writes can commit)."""
    if status.get("in_quorum"):
        return "in the quorum: orders commit"
    return "cut off: this device cannot reach most of the others"


def cards_text() -> str:
    """Cards are taken with the standalone card terminal's approval code, cloud or not."""
    return "taken with the card terminal's approval code, online or offline"


# A card terminal's approval code: typically 6 letters and digits; 12 leaves room.
APPROVAL_MAX = 12
APPROVAL_ROWS = ("1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
APPROVAL_CHARS = frozenset("".join(APPROVAL_ROWS))


def type_approval(code: str, key: str) -> str:
    """``code`` with ``key`` typed: only digits and capital letters, at most APPROVAL_MAX."""
    key = key.upper()
    if len(key) != 1 or key not in APPROVAL_CHARS or len(code) >= APPROVAL_MAX:
        return code
    return code + key
