"""The replicated roster (mesh.node.roster): records, their application, and the snapshot
that carries them beside the ledger's state."""

from __future__ import annotations

import zlib

import pytest

from mesh.ledger.entry import encode_payload
from mesh.ledger.state import LedgerState
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
