"""The replicated roster (mesh.node.roster): records, their application, and the snapshot
that carries them beside the ledger's state."""

from __future__ import annotations

import zlib

import pytest

from mesh.ledger.entry import encode_payload
from mesh.ledger.state import LedgerState
from mesh.node import enrolment
from mesh.node.replica import SNAPSHOT_CODEC_V1, decode_snapshot, encode_snapshot
from mesh.node.roster import RECORD_PREFIX, Roster, decode_record, encode_record, is_record


def test_a_record_round_trips_and_never_looks_like_a_ledger_payload() -> None:
    record = {"op": "revoke", "node": "t3", "key": "K" * 40}
    data = encode_record(record)
    assert is_record(data) and decode_record(data) == record
    assert not is_record(encode_payload(1, {"type": "open_check"}))
    with pytest.raises(ValueError):
        encode_record({"op": "enrol_everyone"})


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"op":"revoke"}', b'{"op":"nope","node":"a","key":"b"}', b"\xff"],
)
def test_a_malformed_record_is_skipped(body: bytes) -> None:
    assert decode_record(RECORD_PREFIX + body) is None


def test_applying_is_idempotent_and_names_the_key() -> None:
    roster = Roster()
    record = {"op": "revoke", "node": "t3", "key": "old"}
    assert roster.apply(record) is True
    assert roster.apply(record) is False
    assert roster.is_revoked("t3", "old")
    assert not roster.is_revoked("t3", "new")  # a new key for the same name is not revoked
    assert Roster.from_json(roster.to_json()) == roster


def test_the_snapshot_carries_the_roster_and_reads_the_old_format() -> None:
    ledger = LedgerState()
    ledger.applied_index = 42
    roster = Roster(revoked={"t3": "old"})
    back, back_roster = decode_snapshot(encode_snapshot(ledger, roster))
    assert back.state_hash() == ledger.state_hash() and back_roster == roster
    old = SNAPSHOT_CODEC_V1 + zlib.compress(ledger.snapshot(), 1)
    back, back_roster = decode_snapshot(old)
    assert back.state_hash() == ledger.state_hash() and back_roster == Roster()
    with pytest.raises(ValueError):
        decode_snapshot(b"zz" + b"nothing")


def test_an_offer_is_used_once_before_it_expires_and_never_for_a_revoked_key() -> None:
    roster = Roster()
    assert roster.apply({"op": "offer", "code": "h1", "expires_ms": 1000})
    assert not roster.apply({"op": "offer", "code": "h1", "expires_ms": 9999})  # idempotent
    enrol = {"op": "enrol", "code": "h1", "node": "t9", "key": "K9", "role": "kds",
             "address": "tcp://127.0.0.1:1", "at_ms": 900}  # fmt: skip
    assert roster.apply(enrol)
    assert roster.enrolled_with("t9", "K9") and roster.offers["h1"]["used_by"] == "t9"
    assert not roster.apply({**enrol, "node": "t10", "key": "K10"})  # single use
    assert "t10" not in roster.enrolled
    roster.apply({"op": "offer", "code": "h2", "expires_ms": 1000})
    assert not roster.apply({**enrol, "code": "h2", "node": "t11", "at_ms": 1001})  # expired
    roster.apply({"op": "revoke", "node": "t12", "key": "K12"})
    assert not roster.apply({**enrol, "code": "h2", "node": "t12", "key": "K12"})  # revoked key
    roster.apply({"op": "offer", "code": "h3", "expires_ms": 1000})
    assert not roster.apply({**enrol, "code": "h3", "node": "t13", "key": "K12"})  # any name
    assert not roster.apply({**enrol, "code": "h3", "node": "t14", "key": "K9"})  # t9's key
    assert roster.offers["h3"]["used_by"] is None
    assert roster.apply({**enrol, "code": "h2", "node": "t12", "key": "K12-new"})  # a new key
    assert not roster.enrolled_with("t9", "K-other")
    back = Roster.from_json(roster.to_json())
    assert back == roster and back.to_json() == roster.to_json()


def test_codes_are_short_forgiving_to_type_and_bound_to_their_site() -> None:
    code = enrolment.new_code()
    assert len(code) == 9 and code[4] == "-"
    canonical = enrolment.normalize(code)
    assert canonical is not None and len(canonical) == 8
    assert enrolment.normalize(code.lower().replace("-", " ")) == canonical
    assert enrolment.normalize("ABCD-EFGO") == "ABCDEFG0"  # O typed for zero
    assert enrolment.normalize("IL00-0000") == "11000000"
    assert enrolment.normalize("ABCD-EFG") is None
    assert enrolment.normalize("ABCD-EFGU") is None  # U is not in Crockford's alphabet
    assert enrolment.code_hash("a", canonical) != enrolment.code_hash("b", canonical)
    assert len({enrolment.new_code() for _ in range(200)}) == 200
