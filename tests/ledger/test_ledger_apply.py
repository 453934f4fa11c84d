"""apply itself: log order, stamped time, exactly-once ids, the dedup window, payloads."""

from __future__ import annotations

import pytest

from mesh.ledger import (
    LedgerEntry,
    LedgerState,
    OutOfOrderEntry,
    apply,
    decode_payload,
    encode_payload,
)
from mesh.ledger.state import DEDUP_KEEP_ENTRIES, DEDUP_WINDOW_MS
from tests.ledger.ledger_harness import MINUTE, Till, domain


def test_entries_must_move_forward() -> None:
    till = Till()
    with pytest.raises(OutOfOrderEntry):
        apply(till.state, LedgerEntry(index=1, time_ms=till.now, command={}))
    # Gaps are normal: Raft's own entries (no-ops, membership) never reach the ledger.
    out = apply(till.state, LedgerEntry(index=10, time_ms=till.now, command={"type": "x"}))
    assert not out.ok and till.state.applied_index == 10


def test_time_never_goes_backwards() -> None:
    till = Till()
    ahead = till.now
    till.index += 1
    check = till.new_check_id()
    command = {"type": "open_check", "id": "late", "by": "s-ana", "check": check, "table": "1"}
    apply(till.state, LedgerEntry(index=till.index, time_ms=ahead - 5 * MINUTE, command=command))
    assert till.state.checks[check]["opened_at"] == ahead
    assert till.state.last_time_ms == ahead


def test_a_duplicate_id_returns_the_first_outcome_and_changes_nothing() -> None:
    till = Till()
    check = till.open()
    first = till.submit("add_items", cid="dup", check=check, items=[{"item": "ipa"}])
    before = domain(till.state)
    again = till.submit("add_items", cid="dup", check=check, items=[{"item": "ipa"}])
    assert again.duplicate and again.result == first.result and again.index == first.index
    assert domain(till.state) == before
    # Even with different content: the id decides (a retry is the same command).
    other = till.submit("pay", cid="dup", check=check, tender="cash")
    assert other.duplicate and other.result == first.result


def test_outcomes_are_forgotten_after_the_window_in_time_and_in_entries() -> None:
    till = Till()
    check = till.open()
    till.submit("add_items", cid="old", check=check, items=[{"item": "ipa"}])
    assert till.state.seen_outcome("old") is not None
    # A day of stamped time alone (e.g. a leader's clock jumping ahead) forgets nothing.
    till.ok("clock_in", advance_ms=DEDUP_WINDOW_MS + MINUTE)
    assert till.state.seen_outcome("old") is not None
    till.index += DEDUP_KEEP_ENTRIES  # a day's worth of entries later (Raft indexes skip)
    till.ok("clock_out")
    assert till.state.seen_outcome("old") is None
    assert till.state.dedup_size() == 2


def test_rejections_are_typed_and_json_able() -> None:
    till = Till()
    out = till.submit("close_check", check="7QK-5D")
    assert out.to_dict() == {
        "id": out.command_id,
        "index": out.index,
        "ok": False,
        "error": {"code": "not_found", "message": "no check 7QK-5D"},
    }


def test_payload_round_trip() -> None:
    command = {"type": "clock_in", "id": "a", "by": "s-ana"}
    data = encode_payload(1234, command)
    entry = decode_payload(data, index=7, term=2)
    assert entry == LedgerEntry(index=7, term=2, time_ms=1234, command=command)
    with pytest.raises(ValueError):
        decode_payload(b"[1,2]", index=1)


def test_a_payloads_writer_travels_and_changes_nothing_applied() -> None:
    command = {"type": "clock_in", "id": "a", "by": "s-ana"}
    named = decode_payload(encode_payload(1234, command, "9f3a01bc"), index=7, term=2)
    assert named.writer == "9f3a01bc"
    assert decode_payload(encode_payload(1234, command), index=7, term=2).writer is None
    odd = decode_payload(b'{"t":1234,"c":{"type":"clock_in","id":"a"},"w":5}', index=7)
    assert odd.writer is None  # not ours to trust: nothing names a writer
    plain, other = LedgerState(), LedgerState()
    apply(plain, decode_payload(encode_payload(1234, command), index=1))
    apply(other, decode_payload(encode_payload(1234, command, "9f3a01bc"), index=1))
    assert plain.state_hash() == other.state_hash()


def test_an_empty_state_hash_is_stable() -> None:
    assert LedgerState().state_hash() == LedgerState().state_hash()


def test_human_typed_check_refs_work_in_commands() -> None:
    till = Till()
    check = till.open()
    typed = check.lower().replace("1", "l").replace("0", "o")
    till.add(typed, {"item": "ipa"})
    assert len(till.state.checks[check]["lines"]) == 1


def test_changing_a_returned_outcome_cannot_change_the_state() -> None:
    till = Till()
    check = till.open()
    first = till.submit("add_items", cid="x", check=check, items=[{"item": "ipa"}])
    first.result["lines"].append("L999")
    again = till.submit("add_items", cid="x", check=check, items=[{"item": "ipa"}])
    again.result["lines"].append("L998")
    third = till.submit("add_items", cid="x", check=check, items=[{"item": "ipa"}])
    assert third.result["lines"] == ["L1"]


def test_a_restored_state_still_knows_the_ids_it_has_seen() -> None:
    till = Till()
    check = till.open()
    first = till.submit("pay", cid="p", check=check, tender="card")
    till.state = LedgerState.restore(till.state.snapshot())
    again = till.submit("pay", cid="p", check=check, tender="cash")
    assert again.duplicate and again.error == first.error


def test_the_hash_follows_every_applied_entry() -> None:
    till = Till()
    before = till.state.state_hash()
    till.open()
    after = till.state.state_hash()
    assert before != after
    assert after == LedgerState.restore(till.state.snapshot()).state_hash()


def test_a_handler_bug_is_an_internal_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    from mesh.ledger.apply import HANDLERS

    def broken(ctx: object, cmd: object) -> dict[str, object]:
        raise KeyError("boom")

    monkeypatch.setitem(HANDLERS, "no_sale", broken)
    till = Till()
    outcome = till.submit("no_sale", by="m-eve")
    assert outcome.error is not None
    assert outcome.error.code == "internal"
    assert outcome.error.message == "internal error in no_sale: KeyError"
    till.open()  # the ledger keeps going
