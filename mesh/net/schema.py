"""Every message that crosses the wire, and the only code that encodes or decodes one.

A frame is a msgpack array ``[PROTOCOL_VERSION, kind, body]``: ``kind`` is a short
tag from the registry below and ``body`` a map holding exactly the fields of that
kind's dataclass. Fields are encoded generically from ``dataclasses.fields()`` and
their type hints, so a field or enum member added to ``mesh.raft.types`` travels
without touching this module (bump ``RAFT_WIRE_VERSION`` there when you do).

Rules:
- ``decode()`` raises ``SchemaError`` and nothing else, whatever the bytes. Its
  ``reason`` is one of ``REASONS`` and is used as a counter label.
- ``encode()`` validates as strictly as ``decode()``: we never send what a peer
  would have to drop. An invalid or oversized outgoing message raises ``SchemaError``.
- Decoding is strict: missing or unknown fields, wrong types, ints outside 64 bits,
  negative Raft counters, malformed ids and JSON deeper than ``MAX_JSON_DEPTH``
  are all rejected.
- The Raft envelopes of every commit (appends, their answers, heartbeats, votes:
  everything but a snapshot) also have a hand-written path, both ways. It only
  ever says yes: what it cannot prove well-formed goes to the generic codec, which
  gives the answer and the error. Tests hold the two to the same bytes and the
  same messages.

This module must never do I/O, log, or import anything of the project other than
``mesh.raft.types`` and ``mesh.net.constants``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

import msgpack

from mesh.net import constants
from mesh.raft import types as raft_types
from mesh.raft.types import RAFT_WIRE_VERSION, Entry, EntryKind, Message, MessageType

# --- errors -----------------------------------------------------------------

REASONS: Final = frozenset(
    {
        "oversized",  # the frame is longer than the size limit
        "malformed",  # not msgpack, trailing bytes, or a msgpack extension type
        "bad_envelope",  # not a [version, kind, body] array
        "bad_version",  # a protocol (or Raft wire) version we do not speak
        "unknown_kind",  # a kind tag missing from the registry
        "bad_fields",  # a body with missing or unknown fields
        "bad_type",  # a field of the wrong type
        "bad_value",  # a field of the right type and an unacceptable value
        "internal",  # a bug of ours surfaced while decoding; never expected
    }
)


class SchemaError(ValueError):
    """A frame or message that is not valid on the wire (a ``ValueError``).

    ``reason`` is a short label from ``REASONS`` (used for counters and logs);
    ``detail`` says where and why, for a human.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# --- field checks shared by the messages ------------------------------------

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_TAG_RE: Final = re.compile(r"[a-z][a-z0-9_]*")


def check_id(value: object, where: str) -> str:
    """A node or site id: letters, digits, ``-`` and ``_``, at most ``MAX_ID_CHARS``."""
    if not isinstance(value, str):
        raise SchemaError("bad_type", f"{where}: expected an id string")
    if len(value) > constants.MAX_ID_CHARS or not _ID_RE.fullmatch(value):
        raise SchemaError("bad_value", f"{where}: not a valid id")
    return value


def _check_tag(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise SchemaError("bad_type", f"{where}: expected a tag string")
    if len(value) > constants.MAX_TAG_CHARS or not _TAG_RE.fullmatch(value):
        raise SchemaError("bad_value", f"{where}: not a lowercase tag")
    return value


def _check_text(value: object, where: str, limit: int) -> str:
    if not isinstance(value, str):
        raise SchemaError("bad_type", f"{where}: expected a string")
    if len(value) > limit:
        raise SchemaError("bad_value", f"{where}: longer than {limit} characters")
    return value


def _check_count(value: object, where: str) -> int:
    """A non-negative 63-bit integer (terms, indexes, commits)."""
    if type(value) is not int:
        raise SchemaError("bad_type", f"{where}: expected an int")
    if not 0 <= value <= _INT64_MAX:
        raise SchemaError("bad_value", f"{where}: out of range")
    return value


def check_json(value: object, where: str, depth: int = 0) -> None:
    """A JSON-able value: None, bool, 64-bit int, str, list, or dict with str keys.

    Floats are refused on purpose: money is integer minor units everywhere.
    """
    if depth > constants.MAX_JSON_DEPTH:
        raise SchemaError("bad_value", f"{where}: nested deeper than {constants.MAX_JSON_DEPTH}")
    if value is None or isinstance(value, bool | str):
        return
    if type(value) is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise SchemaError("bad_value", f"{where}: int out of 64-bit range")
        return
    if type(value) is list:
        for item in value:
            check_json(item, where, depth + 1)
        return
    if type(value) is dict:
        for key, item in value.items():
            if not isinstance(key, str):
                raise SchemaError("bad_type", f"{where}: dict key is not a string")
            check_json(item, where, depth + 1)
        return
    if isinstance(value, float):
        why = "is not a whole number (money is in minor units: 1250 for 12.50)"
        raise SchemaError("bad_type", f"{where}: {value!r} {why}")
    raise SchemaError("bad_type", f"{where}: {type(value).__name__} is not JSON-able")


def _check_json_dict(value: object, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise SchemaError("bad_type", f"{where}: expected a dict")
    check_json(value, where)
    return value


# --- the messages -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RaftEnvelope:
    """One Raft message for a site. Deep validation of ``message`` runs on encode/decode."""

    site: str
    message: Message

    def __post_init__(self) -> None:
        check_id(self.site, "site")
        if not isinstance(self.message, Message):
            raise SchemaError("bad_type", "message: expected a mesh.raft.types.Message")


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardRequest:
    """A client's command, forwarded by the node ``origin`` to the leader."""

    req_id: str
    origin: str
    command: dict[str, Any]

    def __post_init__(self) -> None:
        _check_request_id(self.req_id)
        check_id(self.origin, "origin")
        _check_json_dict(self.command, "command")


@dataclass(frozen=True, slots=True, kw_only=True)
class ForwardReply:
    """The leader's answer to a ``ForwardRequest``.

    ``ok`` with ``outcome`` once the command is committed and applied at ``index``;
    ``ok`` without ``outcome`` when it was just proposed afresh as entry ``index``
    (``proposed``: the origin answers from its own apply of that entry); otherwise
    ``error`` = ``{"code": tag, "message": str, ...}``. A follower that received the
    request answers ``code="not_leader"`` with ``leader`` as a hint (None when it
    does not know one).
    """

    req_id: str
    ok: bool
    index: int
    outcome: dict[str, Any] | None
    error: dict[str, Any] | None
    leader: str | None = None

    def __post_init__(self) -> None:
        _check_request_id(self.req_id)
        if not isinstance(self.ok, bool):
            raise SchemaError("bad_type", "ok: expected a bool")
        _check_count(self.index, "index")
        if self.outcome is not None:
            _check_json_dict(self.outcome, "outcome")
        if self.ok and self.error is not None:
            raise SchemaError("bad_value", "error: must be None when ok")
        if not self.ok:
            error = _check_json_dict(self.error, "error")
            _check_tag(error.get("code"), "error.code")
            _check_text(error.get("message"), "error.message", constants.MAX_TEXT_CHARS)
        if self.leader is not None:
            check_id(self.leader, "leader")

    @classmethod
    def proposed(cls, req_id: str, index: int) -> ForwardReply:
        """Proposed afresh as entry ``index``: the origin answers from its own apply
        of that entry, and no other reply follows unless the proposal fails."""
        return cls(req_id=req_id, ok=True, index=index, outcome=None, error=None)

    @classmethod
    def not_leader(cls, req_id: str, leader: str | None) -> ForwardReply:
        return cls(
            req_id=req_id,
            ok=False,
            index=0,
            outcome=None,
            error={"code": "not_leader", "message": "this node is not the leader"},
            leader=leader,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStatus:
    """Heartbeat metadata a node gossips: its role, progress and status dot."""

    node: str
    role: str
    term: int
    applied: int
    leader: str | None
    dot: str
    extra: dict[str, Any]

    def __post_init__(self) -> None:
        check_id(self.node, "node")
        _check_tag(self.role, "role")
        _check_count(self.term, "term")
        _check_count(self.applied, "applied")
        if self.leader is not None:
            check_id(self.leader, "leader")
        _check_tag(self.dot, "dot")
        _check_json_dict(self.extra, "extra")


def _check_request_id(value: object) -> None:
    text = _check_text(value, "req_id", constants.MAX_REQ_ID_CHARS)
    if not text:
        raise SchemaError("bad_value", "req_id: empty")


WireMessage: TypeAlias = RaftEnvelope | ForwardRequest | ForwardReply | NodeStatus
"""Every message kind between enrolled nodes."""


_PROOF_RE: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestEnrol:
    """A device that is not enrolled yet asks to join ``site`` (the guest door only).

    ``proof`` is an HMAC of the enrolment code bound to the device's key, the key
    of the node asked, and these fields (``mesh.node.enrolment.proof``): the code
    itself never travels. ``address`` is where the device will listen
    (``tcp://host:port``), or "" when only mDNS will say.
    """

    site: str
    node: str
    role: str
    address: str
    proof: str

    def __post_init__(self) -> None:
        check_id(self.site, "site")
        check_id(self.node, "node")
        _check_tag(self.role, "role")
        address = _check_text(self.address, "address", constants.MAX_ADDRESS_CHARS)
        if address and not address.startswith("tcp://"):
            raise SchemaError("bad_value", "address: expected tcp://host:port or empty")
        if not isinstance(self.proof, str) or not _PROOF_RE.fullmatch(self.proof):
            raise SchemaError("bad_value", "proof: expected 64 lowercase hex digits")


@dataclass(frozen=True, slots=True, kw_only=True)
class GuestAnswer:
    """The guest door's answer: ``ok`` with ``result``, or ``error`` (``code``, ``message``).

    A node that is not the leader answers ``not_leader`` with ``leader`` as a hint.
    """

    ok: bool
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    leader: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.ok, bool):
            raise SchemaError("bad_type", "ok: expected a bool")
        if self.ok:
            _check_json_dict(self.result, "result")
            if self.error is not None:
                raise SchemaError("bad_value", "error: must be None when ok")
        else:
            error = _check_json_dict(self.error, "error")
            _check_tag(error.get("code"), "error.code")
            _check_text(error.get("message"), "error.message", constants.MAX_TEXT_CHARS)
        if self.leader is not None:
            check_id(self.leader, "leader")


GuestMessage: TypeAlias = GuestEnrol | GuestAnswer
"""The guest door's kinds: never accepted between nodes, and nothing else at the door."""

# The registry: a short tag on the wire per message class. Tags are never reused
# for a different shape; a new kind gets a new tag.
_KIND_BY_TAG: Final[dict[str, type[Any]]] = {
    "raft": RaftEnvelope,
    "fwd": ForwardRequest,
    "fwd_reply": ForwardReply,
    "status": NodeStatus,
}
_GUEST_KIND_BY_TAG: Final[dict[str, type[Any]]] = {
    "guest_enrol": GuestEnrol,
    "guest_answer": GuestAnswer,
}
_TAG_BY_KIND: Final[dict[type[Any], str]] = {
    cls: tag for tag, cls in (_KIND_BY_TAG | _GUEST_KIND_BY_TAG).items()
}


def kind_tag(message: WireMessage | GuestMessage) -> str:
    """The wire tag of a message (``"raft"``, ``"fwd"``, ...), e.g. for counters."""
    try:
        return _TAG_BY_KIND[type(message)]
    except KeyError:
        raise SchemaError("unknown_kind", type(message).__name__) from None


# --- Raft-specific checks (the generic codec checks types; these check meaning) --


def _check_raft_message(value: Any) -> None:
    check_id(value.to, "message.to")
    check_id(value.frm, "message.frm")


def _check_hard_state(value: Any) -> None:
    if value.vote is not None:
        check_id(value.vote, "hard_state.vote")


def _check_conf_state(value: Any) -> None:
    for node in (*value.voters, *value.learners):
        check_id(node, "conf_state member")


_EXTRA_CHECKS: Final[dict[type[Any], typing.Callable[[Any], None]]] = {
    raft_types.Message: _check_raft_message,
    raft_types.HardState: _check_hard_state,
    raft_types.ConfState: _check_conf_state,
}


def _is_raft_type(cls: type[Any]) -> bool:
    return getattr(cls, "__module__", None) == raft_types.__name__


# --- the generic, type-driven codec --------------------------------------------

# Every type is turned once into a pair of converters (one per direction), cached
# by (type, raft): validating a Raft message is the hot path of every commit, and
# walking type hints per message cost more than the rest of the node's work.
Converter: TypeAlias = typing.Callable[[Any, str], Any]
_TO_CACHE: dict[tuple[Any, bool], Converter] = {}
_FROM_CACHE: dict[tuple[Any, bool], Converter] = {}


def _converter(tp: Any, raft: bool, *, outgoing: bool) -> Converter:
    cache = _TO_CACHE if outgoing else _FROM_CACHE
    conv = cache.get((tp, raft))
    if conv is None:
        conv = cache[tp, raft] = _build(tp, raft, outgoing=outgoing)
    return conv


def _scalar(tp: Any, raft: bool) -> Converter | None:
    """The checker of a scalar type (the same both ways); None if ``tp`` is not one."""
    if tp is bool:

        def check_bool(value: Any, where: str) -> Any:
            if not isinstance(value, bool):
                raise SchemaError("bad_type", f"{where}: expected a bool")
            return value

        return check_bool
    if tp is int:
        # Every Raft integer is a term, index or count: never negative.
        low = 0 if raft else _INT64_MIN

        def check_int(value: Any, where: str) -> Any:
            if type(value) is not int:
                raise SchemaError("bad_type", f"{where}: expected an int")
            if not low <= value <= _INT64_MAX:
                raise SchemaError("bad_value", f"{where}: out of range")
            return value

        return check_int
    if tp is str:

        def check_str(value: Any, where: str) -> Any:
            return _check_text(value, where, constants.MAX_TEXT_CHARS)

        return check_str
    if tp is bytes:

        def check_bytes(value: Any, where: str) -> Any:
            if type(value) is not bytes:
                raise SchemaError("bad_type", f"{where}: expected bytes")
            return value

        return check_bytes
    return None


def _optional_arg(tp: Any) -> Any | None:
    """``X`` for ``X | None``; None for any other type."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
    return None


def _build(tp: Any, raft: bool, *, outgoing: bool) -> Converter:
    """The converter of ``tp``: to the wire (``outgoing``) or from it."""
    scalar = _scalar(tp, raft)
    if scalar is not None:
        return scalar
    inner_tp = _optional_arg(tp)
    if inner_tp is not None:
        inner = _converter(inner_tp, raft, outgoing=outgoing)

        def optional(value: Any, where: str) -> Any:
            return None if value is None else inner(value, where)

        return optional
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_to_wire(tp) if outgoing else _enum_from_wire(tp)
    if origin is tuple or origin is frozenset:
        return _collection(tp, raft, outgoing=outgoing)
    if origin is dict or tp is dict:
        return _check_json_dict
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if outgoing:
            cls = tp

            def dataclass_to_wire(value: Any, where: str) -> Any:
                if type(value) is not cls:
                    raise SchemaError("bad_type", f"{where}: expected {cls.__name__}")
                return _dataclass_to_wire(value)

            return dataclass_to_wire
        return lambda raw, where: _dataclass_from_wire(tp, raw, where)

    def refuse(value: Any, where: str) -> Any:
        raise SchemaError("bad_type", f"{where}: type {tp!r} cannot travel on the wire")

    return refuse


def _enum_to_wire(tp: type[enum.Enum]) -> Converter:
    def to_wire(value: Any, where: str) -> Any:
        if not isinstance(value, tp):
            raise SchemaError("bad_type", f"{where}: expected {tp.__name__}")
        return value.value

    return to_wire


def _enum_from_wire(tp: type[enum.Enum]) -> Converter:
    by_value = {member.value: member for member in tp}

    def from_wire(raw: Any, where: str) -> Any:
        if not isinstance(raw, str | int) or isinstance(raw, bool):
            raise SchemaError("bad_type", f"{where}: expected an enum value")
        member = by_value.get(raw)
        if member is None:
            raise SchemaError("bad_value", f"{where}: unknown {tp.__name__}")
        return member

    return from_wire


def _collection(tp: Any, raft: bool, *, outgoing: bool) -> Converter:
    """``tuple[X, ...]`` (an array, in order) or ``frozenset[X]`` (an array, sorted)."""
    is_set = typing.get_origin(tp) is frozenset
    if is_set:
        (item_tp,) = typing.get_args(tp)
    else:
        args = typing.get_args(tp)
        if len(args) != 2 or args[1] is not Ellipsis:

            def refuse(value: Any, where: str) -> Any:
                raise SchemaError("bad_type", f"{where}: only tuple[X, ...] can travel on the wire")

            return refuse
        item_tp = args[0]
    item = _converter(item_tp, raft, outgoing=outgoing)
    if outgoing:
        kind = frozenset if is_set else tuple

        def to_wire(value: Any, where: str) -> Any:
            if not isinstance(value, kind):
                raise SchemaError("bad_type", f"{where}: expected a {kind.__name__}")
            items = [item(one, where) for one in value]
            # Sorted so that equal sets always encode to equal bytes.
            return sorted(items) if is_set else items

        return to_wire

    def from_wire(raw: Any, where: str) -> Any:
        if type(raw) is not list:
            raise SchemaError("bad_type", f"{where}: expected an array")
        items = [item(one, where) for one in raw]
        if not is_set:
            return tuple(items)
        result = frozenset(items)
        if len(result) != len(items):
            raise SchemaError("bad_value", f"{where}: duplicate set members")
        return result

    return from_wire


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    """A dataclass's fields, their types and its checks, worked out once."""

    to_wire: tuple[tuple[str, Converter], ...]  # (field name, its converter)
    from_wire: tuple[tuple[str, Converter], ...]
    names: frozenset[str]
    extra: typing.Callable[[Any], None] | None


_PLANS: dict[type[Any], _Plan] = {}


def _plan(cls: type[Any]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        raft = _is_raft_type(cls)
        names = [f.name for f in dataclasses.fields(cls)]
        plan = _Plan(
            to_wire=tuple((n, _converter(hints[n], raft, outgoing=True)) for n in names),
            from_wire=tuple((n, _converter(hints[n], raft, outgoing=False)) for n in names),
            names=frozenset(names),
            extra=_EXTRA_CHECKS.get(cls) if raft else None,
        )
        _PLANS[cls] = plan
    return plan


def _dataclass_to_wire(value: Any) -> dict[str, Any]:
    plan = _plan(type(value))
    body = {name: conv(getattr(value, name), name) for name, conv in plan.to_wire}
    if plan.extra is not None:
        plan.extra(value)
    return body


def _dataclass_from_wire(cls: type[Any], raw: Any, where: str) -> Any:
    if type(raw) is not dict:
        raise SchemaError("bad_type", f"{where}: expected a map for {cls.__name__}")
    plan = _plan(cls)
    if raw.keys() != plan.names:
        raise SchemaError("bad_fields", f"{where}: fields of {cls.__name__} do not match")
    kwargs = {name: conv(raw[name], name) for name, conv in plan.from_wire}
    try:
        value = cls(**kwargs)
    except SchemaError:
        raise
    except (TypeError, ValueError) as exc:
        raise SchemaError("bad_value", f"{where}: {cls.__name__}: {exc}") from None
    if plan.extra is not None:
        plan.extra(value)
    return value


# --- the hot path: Raft envelopes without a snapshot -----------------------------

# The generic codec above walks a converter per field, with a label for the error it
# may raise; a commit sends and receives a dozen such messages per node, and they
# were a quarter of a leader's CPU. These two functions check the same things
# inline for the common shape and give up (None) on anything else, so every error
# is still raised, and labelled, by the generic codec.

_MESSAGE_KEYS: Final = frozenset(f.name for f in dataclasses.fields(Message))
_ENTRY_KEYS: Final = frozenset(f.name for f in dataclasses.fields(Entry))
_ENVELOPE_KEYS: Final = frozenset({"site", "message", "raft_version"})
_MESSAGE_TYPES: Final = {member.value: member for member in MessageType}
_ENTRY_KINDS: Final = {member.value: member for member in EntryKind}
_ID_MATCH: Final = _ID_RE.fullmatch


def _is_id(value: Any) -> bool:
    return type(value) is str and len(value) <= constants.MAX_ID_CHARS and bool(_ID_MATCH(value))


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _INT64_MAX


def _raft_envelope_to_wire(envelope: RaftEnvelope) -> dict[str, Any] | None:
    """The body the generic codec would make for ``envelope``; None if not sure."""
    m = envelope.message
    if type(m) is not Message or m.snapshot is not None or not _is_id(envelope.site):
        return None
    if not (
        type(m.type) is MessageType
        and _is_id(m.to)
        and _is_id(m.frm)
        and _is_count(m.term)
        and _is_count(m.log_term)
        and _is_count(m.index)
        and _is_count(m.commit)
        and _is_count(m.reject_hint)
        and type(m.reject) is bool
        and type(m.context) is bytes
        and type(m.entries) is tuple
    ):
        return None
    entries = []
    for e in m.entries:
        if not (
            type(e) is Entry
            and _is_count(e.term)
            and _is_count(e.index)
            and type(e.kind) is EntryKind
            and type(e.data) is bytes
        ):
            return None
        entries.append({"term": e.term, "index": e.index, "kind": e.kind.value, "data": e.data})
    # Field order as the generic codec's (the dataclasses'), so the bytes are the same.
    message = {
        "type": m.type.value,
        "to": m.to,
        "frm": m.frm,
        "term": m.term,
        "log_term": m.log_term,
        "index": m.index,
        "entries": entries,
        "commit": m.commit,
        "reject": m.reject,
        "reject_hint": m.reject_hint,
        "snapshot": None,
        "context": m.context,
    }
    return {"site": envelope.site, "message": message, "raft_version": RAFT_WIRE_VERSION}


def _raft_envelope_from_wire(body: Any) -> RaftEnvelope | None:
    """The envelope in ``body`` if it is well-formed and carries no snapshot; else None
    (the generic codec then decides, and names what is wrong)."""
    if type(body) is not dict or body.keys() != _ENVELOPE_KEYS:
        return None
    version, site, m = body["raft_version"], body["site"], body["message"]
    if type(version) is not int or version != RAFT_WIRE_VERSION or not _is_id(site):
        return None
    if type(m) is not dict or m.keys() != _MESSAGE_KEYS or m["snapshot"] is not None:
        return None
    kind, to, frm, raw_entries = m["type"], m["to"], m["frm"], m["entries"]
    term, log_term, index, commit = m["term"], m["log_term"], m["index"], m["commit"]
    reject, reject_hint, context = m["reject"], m["reject_hint"], m["context"]
    if not (
        type(kind) is str
        and kind in _MESSAGE_TYPES
        and _is_id(to)
        and _is_id(frm)
        and _is_count(term)
        and _is_count(log_term)
        and _is_count(index)
        and _is_count(commit)
        and _is_count(reject_hint)
        and type(reject) is bool
        and type(context) is bytes
        and type(raw_entries) is list
    ):
        return None
    entries = []
    for e in raw_entries:
        if type(e) is not dict or e.keys() != _ENTRY_KEYS:
            return None
        e_term, e_index, e_kind, e_data = e["term"], e["index"], e["kind"], e["data"]
        if not (
            _is_count(e_term)
            and _is_count(e_index)
            and type(e_kind) is str
            and e_kind in _ENTRY_KINDS
            and type(e_data) is bytes
        ):
            return None
        entries.append(Entry(term=e_term, index=e_index, kind=_ENTRY_KINDS[e_kind], data=e_data))
    message = Message(
        type=_MESSAGE_TYPES[kind],
        to=to,
        frm=frm,
        term=term,
        log_term=log_term,
        index=index,
        entries=tuple(entries),
        commit=commit,
        reject=reject,
        reject_hint=reject_hint,
        snapshot=None,
        context=context,
    )
    return RaftEnvelope(site=site, message=message)


# --- frames ---------------------------------------------------------------------


def _body_to_wire(message: WireMessage | GuestMessage) -> dict[str, Any]:
    body = _dataclass_to_wire(message)
    if isinstance(message, RaftEnvelope):
        # The Raft types carry their own version, bumped independently of ours.
        body["raft_version"] = RAFT_WIRE_VERSION
    return body


def _body_from_wire(cls: type[Any], body: Any) -> Any:
    if cls is RaftEnvelope:
        if type(body) is not dict:
            raise SchemaError("bad_type", "body: expected a map")
        body = dict(body)
        version = body.pop("raft_version", None)
        if type(version) is not int:
            raise SchemaError("bad_fields", "raft_version missing")
        if version != RAFT_WIRE_VERSION:
            raise SchemaError("bad_version", f"raft wire version {version}")
    return _dataclass_from_wire(cls, body, "body")


def encode(message: WireMessage | GuestMessage, *, max_bytes: int | None = None) -> bytes:
    """One frame for ``message``. Raises ``SchemaError`` if invalid or too large."""
    limit = constants.MAX_FRAME_BYTES if max_bytes is None else max_bytes
    tag = kind_tag(message)
    body = _raft_envelope_to_wire(message) if type(message) is RaftEnvelope else None
    if body is None:
        body = _body_to_wire(message)
    frame = [constants.PROTOCOL_VERSION, tag, body]
    try:
        data = msgpack.packb(frame, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:  # validated above; belt and braces
        raise SchemaError("bad_value", f"cannot pack: {exc}") from None
    assert isinstance(data, bytes)
    if len(data) > limit:
        raise SchemaError("oversized", f"{len(data)} bytes > {limit}")
    return data


def _refuse_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"msgpack extension type {code}")


def decode(frame: bytes | bytearray | memoryview, *, max_bytes: int | None = None) -> WireMessage:
    """The message in ``frame``. Raises ``SchemaError`` (only) if it is not a valid one."""
    message: WireMessage = _decode(frame, max_bytes, _KIND_BY_TAG)
    return message


def decode_guest(frame: bytes | bytearray | memoryview) -> GuestMessage:
    """A guest door message (at most ``MAX_GUEST_FRAME_BYTES``); ``SchemaError`` otherwise."""
    message: GuestMessage = _decode(frame, constants.MAX_GUEST_FRAME_BYTES, _GUEST_KIND_BY_TAG)
    return message


def _decode(
    frame: bytes | bytearray | memoryview, max_bytes: int | None, kinds: dict[str, type[Any]]
) -> Any:
    limit = constants.MAX_FRAME_BYTES if max_bytes is None else max_bytes
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise SchemaError("bad_type", "frame: expected bytes")
    if len(frame) > limit:
        raise SchemaError("oversized", f"{len(frame)} bytes > {limit}")
    try:
        raw = msgpack.unpackb(
            frame,
            raw=False,
            use_list=True,
            strict_map_key=True,
            ext_hook=_refuse_ext,
            timestamp=0,
        )
    except Exception as exc:  # msgpack raises a zoo of types on bad input
        raise SchemaError("malformed", type(exc).__name__) from None
    try:
        return _frame_from_wire(raw, kinds)
    except SchemaError:
        raise
    except Exception as exc:  # the promise is SchemaError only; a bug here is labelled
        raise SchemaError("internal", f"{type(exc).__name__}: {exc}") from None


def _frame_from_wire(raw: Any, kinds: dict[str, type[Any]]) -> Any:
    if type(raw) is not list or len(raw) != 3:
        raise SchemaError("bad_envelope", "expected [version, kind, body]")
    version, tag, body = raw
    if type(version) is not int:
        raise SchemaError("bad_envelope", "version is not an int")
    if version != constants.PROTOCOL_VERSION:
        raise SchemaError("bad_version", f"protocol version {version}")
    if not isinstance(tag, str):
        raise SchemaError("bad_envelope", "kind is not a string")
    cls = kinds.get(tag)
    if cls is None:
        raise SchemaError("unknown_kind", tag[: constants.MAX_TAG_CHARS])
    if cls is RaftEnvelope:
        envelope = _raft_envelope_from_wire(body)
        if envelope is not None:
            return envelope
    return _body_from_wire(cls, body)
