"""The terminal's presentation helpers and error wording (no window needed)."""

from __future__ import annotations

import time

from terminal import present, wording
from terminal.present import TIMES

SITE = {"currency": "USD", "decimals": 2}


def test_money_uses_the_catalogs_currency_and_decimals() -> None:
    assert present.money(4573, SITE) == "$45.73"
    assert present.money(123456789, SITE) == "$1,234,567.89"
    assert present.money(-250, SITE) == "-$2.50"
    assert present.money(1500, {"currency": "JPY", "decimals": 0}) == "1,500 JPY"


def test_quick_cash_offers_the_exact_amount_then_the_next_notes() -> None:
    assert present.quick_cash(2667, SITE) == [2667, 3000, 4000, 5000]
    assert present.quick_cash(0, SITE) == [500, 1000, 2000, 5000]


def test_keyed_amounts_are_typed_in_cents_like_a_till() -> None:
    assert present.parse_keyed_amount("2000") == 2000
    assert present.parse_keyed_amount("") == 0


def test_a_check_shows_its_number_once_the_cloud_gave_one() -> None:
    assert present.check_label({"id": "A1-19", "number": None}) == "A1-19"
    assert present.not_synced({"id": "A1-19", "number": None})
    assert present.check_label({"id": "A1-19", "number": 1042}) == "#1042"


def test_stages_colour_the_floor() -> None:
    new = {"status": "new"}
    fired = {"status": "fired"}
    assert present.check_stage({"status": "open", "lines": [new, fired]}) == "open"
    assert present.check_stage({"status": "open", "lines": [fired]}) == "fired"
    paid = {"status": "open", "lines": [fired], "totals": {"paid": 100}, "balance": 50}
    assert present.check_stage(paid) == "paying"
    assert present.check_stage({"status": "closed"}) == "closed"


def test_lines_are_grouped_by_seat_and_course_with_voids_struck_through() -> None:
    lines = [
        {
            "id": "L1",
            "name": "Ribeye 14oz",
            "qty": 1,
            "seat": 2,
            "course": 2,
            "amount": 4200,
            "status": "fired",
            "modifiers": [{"name": "Medium rare"}],
            "note": "sauce [side]",
            "void": None,
            "comp": None,
        },
        {
            "id": "L2",
            "name": "House IPA",
            "qty": 2,
            "seat": 1,
            "course": 1,
            "amount": 1600,
            "status": "voided",
            "modifiers": [],
            "note": "",
            "void": {"reason": "x"},
            "comp": None,
        },
    ]
    rows = present.line_rows(lines, SITE, selected="L1")
    assert [r["kind"] for r in rows] == ["header", "line", "header", "line"]
    assert rows[0]["text"].startswith("Seat 1") and rows[2]["text"].startswith("Seat 2")
    ipa, ribeye = rows[1], rows[3]
    assert ipa["text"].startswith(f"[s]2 {TIMES} House IPA") and ipa["amount"] == "[s]$16.00[/s]"
    assert "Medium rare" in ribeye["text"] and "&bl;side&br;" in ribeye["text"]
    assert ribeye["selected"] and not ipa["selected"]


def test_the_receipt_prints_the_ledgers_totals() -> None:
    check = {
        "id": "A1-19",
        "number": None,
        "table": "12",
        "guests": 2,
        "server": "s-ana",
        "lines": [{"name": "Soda", "qty": 1, "amount": 350, "status": "fired", "modifiers": []}],
        "payments": [{"tender": "cash", "amount": 381, "tip": 0, "change": 119}],
        "totals": {"subtotal": 350, "tax": 31, "tax_added": 31, "total": 381, "balance": 0},
    }
    catalog = {
        "site": {"name": "The Copper Grill", **SITE},
        "staff": {"s-ana": {"name": "Ana"}},
        "tenders": {"cash": {"name": "Cash"}},
    }
    text = present.receipt_text(check, catalog)
    assert "Server Ana" in text and "$3.81" in text and "$1.19" in text
    assert "Not synced yet" in text


def test_cluster_errors_are_explained_and_offered_for_retry() -> None:
    no_quorum = {"ok": False, "error": {"code": "no_quorum", "message": "..."}}
    assert wording.is_retryable(no_quorum)
    assert "Retry" in wording.explain(no_quorum) and "only count once" in wording.explain(no_quorum)
    refused = {"ok": False, "error": {"code": "item_86d", "message": "item 'Ribeye 14oz' is 86'd"}}
    assert not wording.is_retryable(refused)
    assert wording.explain(refused) == "Item 'Ribeye 14oz' is 86'd"
    locked = {"ok": False, "error": {"code": "locked", "message": "", "retry_in_s": 59.2}}
    assert wording.explain(locked) == "Too many wrong PINs. The pad unlocks in 60 s."


def test_a_card_refused_asks_for_the_approval_code_and_never_blames_the_internet() -> None:
    message = (
        "Card needs an authorization (the approval code the payment terminal gave): "
        "without one, take cash or another tender"
    )
    card = {"ok": False, "error": {"code": "requires_cloud", "message": message}}
    words = wording.explain(card)
    assert "approval code" in words and "card terminal" in words, words
    assert "internet" not in words.lower() and "down" not in words, words


def test_an_approval_code_takes_digits_and_letters_up_to_twelve() -> None:
    code = ""
    for key in "7qx4b2":
        code = present.type_approval(code, key)
    assert code == "7QX4B2"  # letters as capitals, as card terminals print them
    assert present.type_approval(code, "-") == code
    assert present.type_approval(code, "é") == code
    assert present.type_approval(code, "AB") == code  # one key at a time
    for key in "ABCDEFGH":
        code = present.type_approval(code, key)
    assert code == "7QX4B2ABCDEF"
    assert len(code) == present.APPROVAL_MAX == 12
    keys = "".join(present.APPROVAL_ROWS)
    assert sorted(keys) == sorted("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_an_enrolment_code_says_how_long_it_lasts_and_until_when() -> None:
    expires_ms = int(time.time() * 1000) + 600_000
    until = time.strftime("%H:%M", time.localtime(expires_ms / 1000))
    assert present.expiry_text(expires_ms, 600) == f"Valid for 10 min, until {until}"


def test_a_follower_asked_to_lead_names_the_device_that_leads() -> None:
    refused = {"ok": False, "error": {"code": "not_leader", "message": "ask"}, "leader": "n2"}
    assert "Do it on device n2" in wording.explain(refused)
    assert not wording.is_retryable(refused)
    leaderless = {"ok": False, "error": {"code": "not_leader", "message": "ask"}, "leader": None}
    assert "once there is one" in wording.explain(leaderless)


def test_the_dot_says_how_many_records_wait_while_amber() -> None:
    assert present.dot_caption("amber", {"cloud": "up", "backlog": 3}) == "Syncing: 3 waiting"
    assert present.dot_caption("green", {"cloud": "up", "backlog": 0}) == "Online"
    assert present.dot_caption("red", None) == "Offline: selling continues"
    assert present.dot_caption("cut_off", {}) == "Cut off from the other devices"


def test_the_panel_says_when_the_cloud_last_synced_and_what_waits() -> None:
    synced = int(time.mktime((2026, 3, 14, 18, 5, 9, 0, 0, -1)) * 1000)
    assert present.last_sync_text(synced, synced + 75_000) == "18:05:09 (1 min ago)"
    # Another device's clock a little ahead: never "-2 s ago".
    assert present.last_sync_text(synced, synced - 2_000) == "18:05:09 (0 s ago)"
    assert present.last_sync_text(None, synced).startswith("none since")
    assert present.unsynced_text(0, None) == "nothing"
    assert present.unsynced_text(1, 12_500) == "1 record, the oldest 12 s old"
    assert present.unsynced_text(40, 180_000) == "40 records, the oldest 3 min old"
    assert present.cloud_text({"cloud": "up", "backlog": 2}) == "reachable, uploading 2"
    assert present.cloud_text({"cloud": "down"}).startswith("unreachable")
    assert present.cloud_text({"cloud": "none"}) == "no cloud is configured for this site"
    # Cards are taken with the card terminal's code, whatever the dot says.
    assert "approval code" in present.cards_text() and "internet" not in present.cards_text()
