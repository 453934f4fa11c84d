"""The wire schema: round trips of every message, strict rejection, and fuzzing.

The fuzz tests hold ``decode`` to its promise: whatever the bytes, it returns a
message or raises ``SchemaError`` (never ``internal``), nothing else.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh.net import constants, schema
from mesh.net.schema import (
    ForwardReply,
    ForwardRequest,
    NodeStatus,
    RaftEnvelope,
    SchemaError,
    WireMessage,
)
from mesh.raft.types import (
    ConfState,
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    Snapshot,
    SnapshotMeta,
)

# --- strategies derived from the type hints, so fields added to the Raft types are
# --- exercised without touching this file --------------------------------------

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}", fullmatch=True)
tags = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
counts = st.integers(min_value=0, max_value=2**63 - 1)


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """Valid values of ``tp`` as the Raft types use it (strings are node ids)."""
    if tp is bool:
        return st.booleans()
    if tp is int:
        return counts
    if tp is str:
        return ids
    if tp is bytes:
        return st.binary(max_size=64)
    if tp is type(None):
        return st.none()
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([strategy_for(arg) for arg in typing.get_args(tp)])
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(list(tp))
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(tp)[0]), max_size=4).map(tuple)
    if origin is frozenset:
        return st.frozensets(strategy_for(typing.get_args(tp)[0]), max_size=5)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        fields = {f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(tp)}
        return st.fixed_dictionaries(fields).map(lambda kwargs: tp(**kwargs))
    raise AssertionError(f"no strategy for {tp!r}: teach strategy_for the new field type")


json_leaves = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
json_dicts = st.dictionaries(st.text(max_size=8), json_values, max_size=5)

raft_envelopes = st.builds(RaftEnvelope, site=ids, message=strategy_for(Message))
forward_requests = st.builds(
    ForwardRequest, req_id=st.text(min_size=1, max_size=40), origin=ids, command=json_dicts
)
forward_replies = st.one_of(
    st.builds(
        ForwardReply,
        req_id=st.text(min_size=1, max_size=40),
        ok=st.just(True),
        index=counts,
        outcome=json_dicts,
        error=st.none(),
        leader=st.none() | ids,
    ),
    st.builds(
        ForwardReply,
        req_id=st.text(min_size=1, max_size=40),
        ok=st.just(False),
        index=counts,
        outcome=st.none(),
        error=st.fixed_dictionaries({"code": tags, "message": st.text(max_size=40)}),
        leader=st.none() | ids,
    ),
)
node_statuses = st.builds(
    NodeStatus,
    node=ids,
    role=tags,
    term=counts,
    applied=counts,
    leader=st.none() | ids,
    dot=tags,
    extra=json_dicts,
)
wire_messages: st.SearchStrategy[WireMessage] = st.one_of(
    raft_envelopes, forward_requests, forward_replies, node_statuses
)


def _full_message(kind: MessageType) -> Message:
    snapshot = Snapshot(
        meta=SnapshotMeta(
            index=40,
            term=3,
            conf=ConfState(voters=frozenset({"t1", "t2", "k1"}), learners=frozenset({"h9"})),
        ),
        data=b"\x00state\xff",
    )
    entries = (
        Entry(term=3, index=41, kind=EntryKind.NORMAL, data=b""),
        Entry(term=3, index=42, kind=EntryKind.NORMAL, data=b'{"op":"open_check"}'),
        Entry(term=4, index=43, kind=EntryKind.CONF_CHANGE, data=b"\x01\x02"),
    )
    return Message(
        type=kind,
        to="t2",
        frm="t1",
        term=4,
        log_term=3,
        index=40,
        entries=entries,
        commit=42,
        reject=True,
        reject_hint=39,
        snapshot=snapshot,
        context=b"transfer",
    )


# --- round trips --------------------------------------------------------------


@pytest.mark.parametrize("kind", list(MessageType), ids=lambda kind: kind.value)
def test_every_raft_message_type_round_trips_with_entries_and_snapshot(kind: MessageType) -> None:
    envelope = RaftEnvelope(site="bistro-7", message=_full_message(kind))
    frame = schema.encode(envelope)
    assert schema.decode(frame) == envelope
    # Equal values encode to equal bytes (sets are sorted), so frames can be compared.
    assert schema.encode(schema.decode(frame)) == frame


def test_minimal_raft_message_round_trips() -> None:
    envelope = RaftEnvelope(site="s", message=Message(type=MessageType.HEARTBEAT, to="a", frm="b"))
    assert schema.decode(schema.encode(envelope)) == envelope


def test_hard_state_is_checked_by_the_codec_too() -> None:
    # HardState never travels today; the codec still knows how to check one.
    assert schema._dataclass_to_wire(HardState(term=2, vote="t1", commit=1)) == {
        "term": 2,
        "vote": "t1",
        "commit": 1,
    }
    with pytest.raises(SchemaError):
        schema._dataclass_to_wire(HardState(term=2, vote="not an id!", commit=1))


@pytest.mark.parametrize(
    "message",
    [
        ForwardRequest(
            req_id="r-1",
            origin="t1",
            command={
                "op": "add_item",
                "qty": 2,
                "mods": ["no onion"],
                "note": None,
                "rush": True,
                "nested": {"a": [1, {"b": -5}]},
            },
        ),
        ForwardReply(req_id="r-1", ok=True, index=17, outcome={"check": "K7Q2-9"}, error=None),
        ForwardReply(
            req_id="r-2",
            ok=False,
            index=0,
            outcome=None,
            error={"code": "void_after_fire", "message": "needs a manager", "detail": [1]},
        ),
        ForwardReply.not_leader("r-3", "t2"),
        ForwardReply.not_leader("r-4", None),
        NodeStatus(
            node="k1",
            role="follower",
            term=9,
            applied=120,
            leader="t2",
            dot="amber",
            extra={"unsynced": 3},
        ),
        NodeStatus(
            node="k1", role="candidate", term=9, applied=0, leader=None, dot="red_ring", extra={}
        ),
    ],
    ids=lambda m: type(m).__name__,
)
def test_other_messages_round_trip(message: WireMessage) -> None:
    assert schema.decode(schema.encode(message)) == message


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(wire_messages)
def test_any_valid_message_round_trips(message: WireMessage) -> None:
    assert schema.decode(schema.encode(message)) == message


def test_kind_tags_are_short_and_distinct() -> None:
    tags_seen = {
        schema.kind_tag(m)
        for m in (
            RaftEnvelope(site="s", message=Message(type=MessageType.VOTE, to="a", frm="b")),
            ForwardRequest(req_id="r", origin="a", command={}),
            ForwardReply.not_leader("r", None),
            NodeStatus(
                node="a", role="leader", term=1, applied=1, leader="a", dot="green", extra={}
            ),
        )
    }
    assert tags_seen == {"raft", "fwd", "fwd_reply", "status"}


# --- strict rejection ---------------------------------------------------------


def _reason(frame: bytes, **kwargs: Any) -> str:
    with pytest.raises(SchemaError) as info:
        schema.decode(frame, **kwargs)
    return info.value.reason


def _frame(version: Any, kind: Any, body: Any) -> bytes:
    data = msgpack.packb([version, kind, body], use_bin_type=True)
    assert isinstance(data, bytes)
    return data


def _status_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "node": "k1",
        "role": "follower",
        "term": 1,
        "applied": 2,
        "leader": None,
        "dot": "green",
        "extra": {},
    }
    body.update(changes)
    return body


def test_oversized_frames_are_rejected_before_parsing() -> None:
    big = ForwardRequest(req_id="r", origin="t1", command={"blob": "x" * 2000})
    frame = schema.encode(big)
    assert _reason(frame, max_bytes=1000) == "oversized"
    with pytest.raises(SchemaError) as info:
        schema.encode(big, max_bytes=1000)
    assert info.value.reason == "oversized"
    assert _reason(b"\x00" * (constants.MAX_FRAME_BYTES + 1)) == "oversized"


def test_the_default_limit_is_sixty_four_mebibytes_and_can_be_shrunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert constants.MAX_FRAME_BYTES == 64 * 1024 * 1024  # a big day's snapshot fits
    frame = schema.encode(ForwardRequest(req_id="r", origin="t1", command={"blob": "x" * 300}))
    monkeypatch.setattr(constants, "MAX_FRAME_BYTES", 256)
    assert _reason(frame) == "oversized"


def test_unknown_versions_are_rejected() -> None:
    assert (
        _reason(_frame(constants.PROTOCOL_VERSION + 1, "status", _status_body())) == "bad_version"
    )
    assert _reason(_frame(0, "status", _status_body())) == "bad_version"
    raft = schema.encode(
        RaftEnvelope(site="s", message=Message(type=MessageType.VOTE, to="a", frm="b"))
    )
    body = msgpack.unpackb(raft)[2]
    body["raft_version"] += 1
    assert _reason(_frame(constants.PROTOCOL_VERSION, "raft", body)) == "bad_version"
    del body["raft_version"]
    assert _reason(_frame(constants.PROTOCOL_VERSION, "raft", body)) == "bad_fields"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "malformed"),
        (b"\xc1", "malformed"),  # a byte msgpack never uses
        (_frame(1, "status", {}) + b"\x00", "malformed"),  # trailing bytes
        (msgpack.packb(msgpack.ExtType(5, b"xx")), "malformed"),
        (msgpack.packb({"v": 1}), "bad_envelope"),
        (msgpack.packb([1, "status"]), "bad_envelope"),
        (_frame("1", "status", _status_body()), "bad_envelope"),
        (_frame(1, 7, _status_body()), "bad_envelope"),
        (_frame(1, "enrol_hello", {}), "unknown_kind"),
        (_frame(1, "status", []), "bad_type"),
        (_frame(1, "status", _status_body(extra_field=1)), "bad_fields"),
        (
            _frame(1, "status", {k: v for k, v in _status_body().items() if k != "dot"}),
            "bad_fields",
        ),
        (_frame(1, "status", _status_body(term=-1)), "bad_value"),
        (_frame(1, "status", _status_body(term=True)), "bad_type"),
        (_frame(1, "status", _status_body(term=1.0)), "bad_type"),
        (_frame(1, "status", _status_body(node="bad id!")), "bad_value"),
        (_frame(1, "status", _status_body(node="x" * 32)), "bad_value"),
        (_frame(1, "status", _status_body(node=b"k1")), "bad_type"),
        (_frame(1, "status", _status_body(dot="Green")), "bad_value"),
        (_frame(1, "status", _status_body(extra={"price": 1.5})), "bad_type"),
        (_frame(1, "status", _status_body(extra={"b": b"bytes"})), "bad_type"),
        (
            msgpack.packb([1, "status", _status_body(extra={1: "int key"})]),
            "malformed",
        ),
        (_frame(1, "fwd", {"req_id": "", "origin": "t1", "command": {}}), "bad_value"),
        (
            _frame(
                1,
                "fwd_reply",
                {
                    "req_id": "r",
                    "ok": False,
                    "index": 0,
                    "outcome": None,
                    "error": None,
                    "leader": None,
                },
            ),
            "bad_type",
        ),
        (
            _frame(
                1,
                "fwd_reply",
                {
                    "req_id": "r",
                    "ok": True,
                    "index": 0,
                    "outcome": {},
                    "error": {"code": "x", "message": ""},
                    "leader": None,
                },
            ),
            "bad_value",
        ),
        (
            _frame(
                1,
                "fwd_reply",
                {
                    "req_id": "r",
                    "ok": False,
                    "index": 0,
                    "outcome": None,
                    "error": {"message": "m"},
                    "leader": None,
                },
            ),
            "bad_type",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "frame",
)
def test_wrong_shapes_are_rejected_with_a_reason(frame: bytes, reason: str) -> None:
    assert _reason(frame) == reason


def _raft_body(**message_changes: Any) -> dict[str, Any]:
    frame = schema.encode(RaftEnvelope(site="s", message=_full_message(MessageType.APPEND)))
    body: dict[str, Any] = msgpack.unpackb(frame)[2]
    body["message"].update(message_changes)
    return body


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"type": "gossip"}, "bad_value"),  # an enum member we do not know
        ({"type": 3}, "bad_value"),
        ({"term": -4}, "bad_value"),  # Raft counters are never negative
        ({"term": 2**63}, "bad_value"),
        ({"frm": "a b"}, "bad_value"),
        ({"to": None}, "bad_type"),
        ({"entries": "x"}, "bad_type"),
        ({"entries": [{"term": 1, "index": 1, "kind": "normal"}]}, "bad_fields"),
        ({"entries": [{"term": 1, "index": 1, "kind": "weird", "data": b""}]}, "bad_value"),
        ({"context": "text, not bytes"}, "bad_type"),
        ({"snapshot": {"meta": None, "data": b""}}, "bad_type"),
        ({"future_field": 1}, "bad_fields"),
    ],
)
def test_wrong_raft_messages_are_rejected(changes: dict[str, Any], reason: str) -> None:
    assert _reason(_frame(1, "raft", _raft_body(**changes))) == reason


def test_duplicate_set_members_are_rejected() -> None:
    body = _raft_body()
    body["message"]["snapshot"]["meta"]["conf"]["voters"] = ["t1", "t1"]
    assert _reason(_frame(1, "raft", body)) == "bad_value"


def test_json_depth_is_bounded_on_both_sides() -> None:
    deep: Any = "leaf"
    for _ in range(constants.MAX_JSON_DEPTH + 1):
        deep = [deep]
    with pytest.raises(SchemaError) as info:
        ForwardRequest(req_id="r", origin="t1", command={"x": deep})
    assert info.value.reason == "bad_value"
    frame = _frame(1, "fwd", {"req_id": "r", "origin": "t1", "command": {"x": deep}})
    assert _reason(frame) == "bad_value"
    # Far deeper than Python's recursion limit: msgpack refuses it, we never recurse that far.
    very_deep = b"\x91" * 5000 + b"\xc0"
    assert (
        _reason(
            _frame(1, "fwd", {"req_id": "r", "origin": "t1", "command": {}})[:-1]
            + b"\x81\xa1x"
            + very_deep
        )
        in schema.REASONS
    )


def test_encode_refuses_what_decode_would_refuse() -> None:
    with pytest.raises(SchemaError):
        schema.encode(
            RaftEnvelope(site="s", message=Message(type=MessageType.VOTE, to="a", frm="b", term=-1))
        )
    with pytest.raises(SchemaError):
        schema.encode(
            RaftEnvelope(site="s", message=Message(type=MessageType.VOTE, to="a b", frm="b"))
        )
    with pytest.raises(SchemaError):
        ForwardRequest(req_id="r", origin="t1", command={"t": (1, 2)})  # tuples are not JSON
    with pytest.raises(SchemaError):
        schema.encode("not a message")  # type: ignore[arg-type]


# --- fuzzing ------------------------------------------------------------------


def _decode_or_schema_error(frame: bytes) -> None:
    try:
        message = schema.decode(frame)
    except SchemaError as exc:
        assert exc.reason in schema.REASONS
        assert exc.reason != "internal", exc
    else:
        # Whatever decodes must be a valid message that encodes again.
        schema.encode(message)


@settings(max_examples=2000)
@given(st.binary(max_size=512))
def test_random_bytes_only_ever_raise_schema_error(frame: bytes) -> None:
    _decode_or_schema_error(frame)


@st.composite
def mutated_frames(draw: st.DrawFn) -> bytes:
    frame = bytearray(schema.encode(draw(wire_messages)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        position = draw(st.integers(min_value=0, max_value=max(len(frame) - 1, 0)))
        if action == "flip" and frame:
            frame[position] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "set" and frame:
            frame[position] = draw(st.integers(min_value=0, max_value=255))
        elif action == "insert":
            frame[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and frame:
            del frame[position]
        elif action == "truncate":
            del frame[position:]
    return bytes(frame)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_frames())
def test_mutated_frames_only_ever_raise_schema_error(frame: bytes) -> None:
    _decode_or_schema_error(frame)


msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=10)
    | st.binary(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=16,
)


@st.composite
def frames_with_a_wrong_field(draw: st.DrawFn) -> bytes:
    """A valid frame whose body has one field (at some depth) replaced by junk."""
    return _spoil_one_field(draw, schema.encode(draw(wire_messages)), msgpack_values)


def _spoil_one_field(
    draw: st.DrawFn, frame: bytes, junk: st.SearchStrategy[Any], *, may_delete: bool = False
) -> bytes:
    """``frame`` with one field of its body, at some depth, replaced by ``junk`` (or,
    with ``may_delete``, sometimes removed)."""
    raw = msgpack.unpackb(frame)
    node: Any = raw[2]
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if may_delete and isinstance(node, dict) and draw(st.booleans()):
            del node[key]  # a missing field
        else:
            node[key] = draw(junk)
        break
    data = msgpack.packb(raw, use_bin_type=True)
    assert isinstance(data, bytes)
    return data


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(frames_with_a_wrong_field())
def test_frames_with_a_wrong_field_only_ever_raise_schema_error(frame: bytes) -> None:
    _decode_or_schema_error(frame)


@settings(max_examples=1000)
@given(st.sampled_from(["raft", "fwd", "fwd_reply", "status", "junk"]), msgpack_values)
def test_random_bodies_only_ever_raise_schema_error(kind: str, body: Any) -> None:
    data = msgpack.packb([constants.PROTOCOL_VERSION, kind, body], use_bin_type=True)
    assert isinstance(data, bytes)
    _decode_or_schema_error(data)


# --- the Raft hot path says exactly what the generic codec says -------------------


def _generic_decode(frame: bytes) -> tuple[str, Any]:
    """What ``decode`` answers with the hand-written Raft path switched off."""
    fast = schema._raft_envelope_from_wire
    schema._raft_envelope_from_wire = lambda body: None  # type: ignore[assignment]
    try:
        return _outcome(frame)
    finally:
        schema._raft_envelope_from_wire = fast  # type: ignore[assignment]


def _outcome(frame: bytes) -> tuple[str, Any]:
    try:
        return "ok", schema.decode(frame)
    except SchemaError as exc:
        return "error", exc.reason


def _generic_encode(message: WireMessage) -> bytes:
    frame = [constants.PROTOCOL_VERSION, schema.kind_tag(message), schema._body_to_wire(message)]
    data = msgpack.packb(frame, use_bin_type=True)
    assert isinstance(data, bytes)
    return data


@settings(max_examples=500)
@given(raft_envelopes)
def test_the_raft_fast_path_makes_the_generic_bytes_and_reads_them_back(
    envelope: RaftEnvelope,
) -> None:
    frame = schema.encode(envelope)
    assert frame == _generic_encode(envelope)
    assert schema.decode(frame) == envelope
    assert _generic_decode(frame) == ("ok", envelope)
    body = msgpack.unpackb(frame, raw=False)[2]
    taken = schema._raft_envelope_from_wire(body) is not None
    assert taken == (envelope.message.snapshot is None)  # the fast path is really used


def test_an_append_with_entries_takes_the_fast_path_both_ways() -> None:
    message = dataclasses.replace(_full_message(MessageType.APPEND), snapshot=None)
    envelope = RaftEnvelope(site="bistro-7", message=message)
    assert schema._raft_envelope_to_wire(envelope) is not None
    frame = schema.encode(envelope)
    assert schema._raft_envelope_from_wire(msgpack.unpackb(frame)[2]) == envelope


@st.composite
def raft_frames_with_a_wrong_field(draw: st.DrawFn) -> bytes:
    """A valid snapshot-less Raft frame with one field, at some depth, replaced by junk."""
    message = draw(strategy_for(Message))
    envelope = RaftEnvelope(site=draw(ids), message=dataclasses.replace(message, snapshot=None))
    junk = msgpack_values | st.sampled_from([True, 2**63, -1, "x" * 32, ""])
    return _spoil_one_field(draw, schema.encode(envelope), junk, may_delete=True)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(raft_frames_with_a_wrong_field() | mutated_frames())
def test_the_raft_fast_path_accepts_and_refuses_what_the_generic_codec_does(frame: bytes) -> None:
    assert _outcome(frame) == _generic_decode(frame)
