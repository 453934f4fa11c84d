"""Commands as frozen keyword-only dataclasses, parsed strictly from their JSON dicts.

A command arrives as a JSON-able dict with ``type``, a client-made unique ``id``
and ``by`` (the staff id who did it). ``parse_command`` turns it into one of the
dataclasses below or raises ``Rejected("invalid", ...)`` naming the bad field.
Unknown fields are refused too: a typo must not silently drop a modifier or a tip.
Parsing checks shape and ranges only; whether the check exists, the role may act
and so on is decided against the state in ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from mesh.ledger.check_ids import is_valid_temp_id, not_a_check_ref, parse_check_ref
from mesh.ledger.errors import Rejected

MAX_ID = 64
MAX_TEXT = 140
MAX_ITEMS = 100
MAX_QTY = 999
# Lines, and payments, on one check: the cloud's limit (a check it refuses would hold up the
# sync of every later one).
MAX_CHECK_LIST = 1000
MAX_AMOUNT = 10**9  # ten million in a two-decimal currency: far above any check


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    type: ClassVar[str] = ""
    id: str
    by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemOrder:
    item: str
    qty: int
    seat: int
    course: int
    modifiers: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitPart:
    new_check: str
    seats: tuple[int, ...]
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenCheck(Command):
    type: ClassVar[str] = "open_check"
    check: str
    table: str
    guests: int
    server: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AddItems(Command):
    type: ClassVar[str] = "add_items"
    check: str
    items: tuple[ItemOrder, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class VoidItem(Command):
    type: ClassVar[str] = "void_item"
    check: str
    line: str
    reason: str
    approved_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Fire(Command):
    type: ClassVar[str] = "fire"
    check: str
    course: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldCourse(Command):
    type: ClassVar[str] = "hold_course"
    check: str
    course: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Pay(Command):
    type: ClassVar[str] = "pay"
    check: str
    tender: str
    amount: int | None
    tip: int
    tendered: int | None
    authorization: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseCheck(Command):
    type: ClassVar[str] = "close_check"
    check: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReopenCheck(Command):
    type: ClassVar[str] = "reopen_check"
    check: str
    reason: str
    approved_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferCheck(Command):
    type: ClassVar[str] = "transfer_check"
    check: str
    to_server: str | None
    to_table: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SplitCheck(Command):
    type: ClassVar[str] = "split_check"
    check: str
    parts: tuple[SplitPart, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Comp(Command):
    type: ClassVar[str] = "comp"
    check: str
    line: str
    reason: str
    approved_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class AttachLoyalty(Command):
    type: ClassVar[str] = "attach_loyalty"
    check: str
    phone: str | None
    email: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Bump(Command):
    type: ClassVar[str] = "bump"
    ticket: str
    line: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Recall(Command):
    type: ClassVar[str] = "recall"
    ticket: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Refire(Command):
    type: ClassVar[str] = "refire"
    check: str
    lines: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EightySix(Command):
    type: ClassVar[str] = "eighty_six"
    item: str
    available: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockIn(Command):
    type: ClassVar[str] = "clock_in"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockOut(Command):
    type: ClassVar[str] = "clock_out"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoSale(Command):
    type: ClassVar[str] = "no_sale"
    reason: str
    approved_by: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenDay(Command):
    type: ClassVar[str] = "open_day"
    day: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseDay(Command):
    type: ClassVar[str] = "close_day"
    day: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckNumbered(Command):
    type: ClassVar[str] = "check_numbered"
    check: str
    number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogUpdate(Command):
    type: ClassVar[str] = "catalog_update"
    catalog: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChecksNumbered(Command):
    """Many ``check_numbered`` in one entry: a backlog of thousands is a few entries."""

    type: ClassVar[str] = "checks_numbered"
    numbers: tuple[tuple[str, int], ...]


MAX_NUMBERS: Final = 1000  # pairs in one checks_numbered (a cloud post answers at most 500)


@dataclass(frozen=True, slots=True, kw_only=True)
class Synced(Command):
    type: ClassVar[str] = "synced"
    acks: tuple[tuple[str, int], ...]


class _Reader:
    """Reads typed fields out of one JSON object and remembers which were read."""

    def __init__(self, raw: Mapping[str, Any], where: str) -> None:
        self.raw = raw
        self.where = where
        self.seen: set[str] = set()

    def _bad(self, key: str, why: str) -> Rejected:
        return Rejected("invalid", f"{self.where}: '{key}' {why}")

    def get(self, key: str) -> Any:
        self.seen.add(key)
        return self.raw.get(key)

    def text(self, key: str, *, max_len: int = MAX_TEXT, empty: bool = False) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self._bad(key, "must be a string")
        if len(value) > max_len:
            raise self._bad(key, f"is longer than {max_len} characters")
        if not empty and not value.strip():
            raise self._bad(key, "must not be empty")
        return value

    def opt_text(self, key: str, *, max_len: int = MAX_TEXT, default: str | None = None) -> Any:
        if self.raw.get(key) is None:
            self.seen.add(key)
            return default
        return self.text(key, max_len=max_len)

    def integer(self, key: str, *, lo: int, hi: int) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "must be an integer")
        if not lo <= value <= hi:
            raise self._bad(key, f"must be between {lo} and {hi}")
        return value

    def opt_integer(self, key: str, *, lo: int, hi: int, default: int | None = None) -> Any:
        if self.raw.get(key) is None:
            self.seen.add(key)
            return default
        return self.integer(key, lo=lo, hi=hi)

    def boolean(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise self._bad(key, "must be true or false")
        return value

    def array(self, key: str, *, max_len: int, default: list[Any] | None = None) -> list[Any]:
        value = self.get(key)
        if value is None and default is not None:
            return default
        if not isinstance(value, list):
            raise self._bad(key, "must be a list")
        if len(value) > max_len:
            raise self._bad(key, f"has more than {max_len} entries")
        return value

    def obj(self, key: str) -> dict[str, Any]:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self._bad(key, "must be an object")
        return value

    def check_id(self, key: str = "check") -> str:
        """A check reference: a temporary ID (folded as a person may type it) or a number."""
        value = self.text(key, max_len=MAX_ID)
        ref = parse_check_ref(value)
        if ref is None:
            raise self._bad(key, not_a_check_ref(value))
        return ref

    def done(self) -> None:
        extra = sorted(set(self.raw) - self.seen)
        if extra:
            raise Rejected("invalid", f"{self.where}: unknown field '{extra[0]}'")


def _sub(value: Any, where: str) -> _Reader:
    if not isinstance(value, dict):
        raise Rejected("invalid", f"{where} must be an object")
    return _Reader(value, where)


def _item_order(value: Any, n: int) -> ItemOrder:
    r = _sub(value, f"items[{n}]")
    mods = r.array("modifiers", max_len=20, default=[])
    if not all(isinstance(m, str) and 0 < len(m) <= MAX_ID for m in mods):
        raise Rejected("invalid", f"items[{n}]: 'modifiers' must be modifier ids")
    order = ItemOrder(
        item=r.text("item", max_len=MAX_ID),
        qty=r.opt_integer("qty", lo=1, hi=MAX_QTY, default=1),
        seat=r.opt_integer("seat", lo=0, hi=99, default=0),
        course=r.opt_integer("course", lo=1, hi=9, default=1),
        modifiers=tuple(mods),
        note=r.opt_text("note", default=""),
    )
    r.done()
    return order


def _split_part(value: Any, n: int) -> SplitPart:
    r = _sub(value, f"parts[{n}]")
    new_check = r.text("new_check", max_len=MAX_ID)
    if not is_valid_temp_id(new_check):
        raise Rejected("invalid", f"parts[{n}]: '{new_check}' is not a valid check ID")
    seats = r.array("seats", max_len=100, default=[])
    lines = r.array("lines", max_len=MAX_ITEMS, default=[])
    if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= 99 for s in seats):
        raise Rejected("invalid", f"parts[{n}]: 'seats' must be seat numbers")
    if not all(isinstance(x, str) and x for x in lines):
        raise Rejected("invalid", f"parts[{n}]: 'lines' must be line ids")
    if bool(seats) == bool(lines):
        raise Rejected("invalid", f"parts[{n}]: give either 'seats' or 'lines'")
    r.done()
    return SplitPart(new_check=new_check, seats=tuple(seats), lines=tuple(lines))


def _line_ids(values: list[Any]) -> tuple[str, ...]:
    if not values:
        raise Rejected("invalid", "refire: 'lines' must not be empty")
    if not all(isinstance(x, str) and 0 < len(x) <= MAX_ID for x in values):
        raise Rejected("invalid", "refire: 'lines' must be line ids")
    if len(set(values)) != len(values):
        raise Rejected("invalid", "refire: a line is listed twice in 'lines'")
    return tuple(values)


def _numbers(values: list[Any]) -> tuple[tuple[str, int], ...]:
    if not values:
        raise Rejected("invalid", "checks_numbered: 'numbers' must not be empty")
    out = []
    for n, value in enumerate(values):
        r = _sub(value, f"numbers[{n}]")
        out.append((r.text("check", max_len=MAX_ID), r.integer("number", lo=1, hi=2**53)))
        r.done()
    return tuple(out)


def _acks(values: list[Any]) -> tuple[tuple[str, int], ...]:
    out = []
    for n, value in enumerate(values):
        r = _sub(value, f"acks[{n}]")
        out.append((r.text("key", max_len=MAX_ID * 2), r.integer("version", lo=1, hi=2**53)))
        r.done()
    return tuple(out)


Parser = Callable[[_Reader, str, str], Command]

# Rules: one parser per command type; each reads exactly the fields it documents.
_PARSERS: dict[str, Parser] = {
    "open_check": lambda r, i, b: OpenCheck(
        id=i,
        by=b,
        check=r.text("check", max_len=MAX_ID),
        table=r.text("table", max_len=16),
        guests=r.opt_integer("guests", lo=1, hi=99, default=1),
        server=r.opt_text("server", max_len=MAX_ID),
    ),
    "add_items": lambda r, i, b: AddItems(
        id=i,
        by=b,
        check=r.check_id(),
        items=tuple(_item_order(v, n) for n, v in enumerate(r.array("items", max_len=MAX_ITEMS))),
    ),
    "void_item": lambda r, i, b: VoidItem(
        id=i,
        by=b,
        check=r.check_id(),
        line=r.text("line", max_len=MAX_ID),
        reason=r.text("reason"),
        approved_by=r.opt_text("approved_by", max_len=MAX_ID),
    ),
    "fire": lambda r, i, b: Fire(
        id=i, by=b, check=r.check_id(), course=r.opt_integer("course", lo=1, hi=9)
    ),
    "hold_course": lambda r, i, b: HoldCourse(
        id=i, by=b, check=r.check_id(), course=r.integer("course", lo=1, hi=9)
    ),
    "pay": lambda r, i, b: Pay(
        id=i,
        by=b,
        check=r.check_id(),
        tender=r.text("tender", max_len=MAX_ID),
        amount=r.opt_integer("amount", lo=1, hi=MAX_AMOUNT),
        tip=r.opt_integer("tip", lo=0, hi=MAX_AMOUNT, default=0),
        tendered=r.opt_integer("tendered", lo=1, hi=MAX_AMOUNT),
        authorization=r.opt_text("authorization", max_len=MAX_ID),
    ),
    "close_check": lambda r, i, b: CloseCheck(id=i, by=b, check=r.check_id()),
    "reopen_check": lambda r, i, b: ReopenCheck(
        id=i,
        by=b,
        check=r.check_id(),
        reason=r.text("reason"),
        approved_by=r.opt_text("approved_by", max_len=MAX_ID),
    ),
    "transfer_check": lambda r, i, b: TransferCheck(
        id=i,
        by=b,
        check=r.check_id(),
        to_server=r.opt_text("to_server", max_len=MAX_ID),
        to_table=r.opt_text("to_table", max_len=16),
    ),
    "split_check": lambda r, i, b: SplitCheck(
        id=i,
        by=b,
        check=r.check_id(),
        parts=tuple(_split_part(v, n) for n, v in enumerate(r.array("parts", max_len=20))),
    ),
    "comp": lambda r, i, b: Comp(
        id=i,
        by=b,
        check=r.check_id(),
        line=r.text("line", max_len=MAX_ID),
        reason=r.text("reason"),
        approved_by=r.opt_text("approved_by", max_len=MAX_ID),
    ),
    "attach_loyalty": lambda r, i, b: AttachLoyalty(
        id=i,
        by=b,
        check=r.check_id(),
        phone=r.opt_text("phone", max_len=20),
        email=r.opt_text("email", max_len=254),
    ),
    "bump": lambda r, i, b: Bump(
        id=i,
        by=b,
        ticket=r.text("ticket", max_len=MAX_ID),
        line=r.opt_text("line", max_len=MAX_ID),
    ),
    "refire": lambda r, i, b: Refire(
        id=i,
        by=b,
        check=r.check_id(),
        lines=_line_ids(r.array("lines", max_len=MAX_ITEMS)),
        reason=r.text("reason"),
    ),
    "recall": lambda r, i, b: Recall(id=i, by=b, ticket=r.text("ticket", max_len=MAX_ID)),
    "eighty_six": lambda r, i, b: EightySix(
        id=i, by=b, item=r.text("item", max_len=MAX_ID), available=r.boolean("available")
    ),
    "clock_in": lambda r, i, b: ClockIn(id=i, by=b),
    "clock_out": lambda r, i, b: ClockOut(id=i, by=b),
    "no_sale": lambda r, i, b: NoSale(
        id=i,
        by=b,
        reason=r.opt_text("reason", default="no sale"),
        approved_by=r.opt_text("approved_by", max_len=MAX_ID),
    ),
    "open_day": lambda r, i, b: OpenDay(id=i, by=b, day=r.opt_text("day", max_len=10)),
    "close_day": lambda r, i, b: CloseDay(id=i, by=b, day=r.opt_text("day", max_len=10)),
    "check_numbered": lambda r, i, b: CheckNumbered(
        id=i,
        by=b,
        check=r.text("check", max_len=MAX_ID),
        number=r.integer("number", lo=1, hi=2**53),
    ),
    "checks_numbered": lambda r, i, b: ChecksNumbered(
        id=i, by=b, numbers=_numbers(r.array("numbers", max_len=MAX_NUMBERS))
    ),
    "catalog_update": lambda r, i, b: CatalogUpdate(id=i, by=b, catalog=r.obj("catalog")),
    "synced": lambda r, i, b: Synced(id=i, by=b, acks=_acks(r.array("acks", max_len=10_000))),
}

COMMAND_TYPES: frozenset[str] = frozenset(_PARSERS)


def command_id_of(raw: Any) -> str | None:
    """The command's ``id`` if it has a usable one (so even a malformed command dedups)."""
    if isinstance(raw, Mapping):
        cid = raw.get("id")
        if isinstance(cid, str) and 0 < len(cid) <= MAX_ID:
            return cid
    return None


def parse_command(raw: Any) -> Command:
    """The typed command for ``raw`` or ``Rejected("invalid", ...)``."""
    if not isinstance(raw, Mapping):
        raise Rejected("invalid", "a command must be a JSON object")
    r = _Reader(raw, "command")
    ctype = r.get("type")
    if not isinstance(ctype, str) or ctype not in _PARSERS:
        raise Rejected("invalid", f"unknown command type {ctype!r}")
    r.where = ctype
    cid = command_id_of(raw)
    if cid is None:
        raise Rejected("invalid", f"{ctype}: 'id' must be a string of 1 to {MAX_ID} characters")
    r.seen.add("id")
    by = r.text("by", max_len=MAX_ID)
    command = _PARSERS[ctype](r, cid, by)
    r.done()
    return command
