"""What the sync agent commits: check numbers, catalog updates, acknowledgements."""

from __future__ import annotations

from mesh.ledger import queries
from mesh.ledger.sample_catalog import sample_catalog
from tests.ledger.ledger_harness import MINUTE, Till


def test_check_numbered_makes_both_ids_find_the_check() -> None:
    till = Till()
    check = till.open()
    assert till.ok("check_numbered", by="@sync", check=check, number=1042)["changed"]
    assert queries.find_check(till.state, "1042")["id"] == check  # type: ignore[index]
    assert queries.find_check(till.state, check)["number"] == 1042  # type: ignore[index]
    typed = check.lower().replace("1", "l").replace("0", "o")
    assert queries.find_check(till.state, typed)["number"] == 1042  # type: ignore[index]
    # The same mapping again (a new leader resends) is accepted and changes nothing.
    assert not till.ok("check_numbered", by="@sync", check=check, number=1042)["changed"]
    assert till.err("conflict", "check_numbered", by="@sync", check=check, number=7)
    other = till.open()
    assert till.err("conflict", "check_numbered", by="@sync", check=other, number=1042)
    assert till.err("not_found", "check_numbered", by="@sync", check="7QK-5D", number=9)
    # Commands may name the check by its number from now on.
    till.add("1042", {"item": "ipa"})
    assert queries.find_check(till.state, "99") is None


def test_checks_numbered_applies_each_pair_and_reports_the_refused() -> None:
    till = Till()
    a, b, c = till.open(), till.open(), till.open()
    till.ok("check_numbered", by="@sync", check=a, number=1)
    before = till.state.state_hash()
    out = till.ok(
        "checks_numbered",
        by="@sync",
        numbers=[
            {"check": a, "number": 1},  # again: unchanged
            {"check": b, "number": 2},
            {"check": c, "number": 1},  # the cloud gave a used number: refused, alone
            {"check": "7QK-5D", "number": 9},  # unknown check: refused, alone
        ],
    )
    assert (out["changed"], out["unchanged"]) == (1, 1)
    assert [(s["check"], s["code"]) for s in out["skipped"]] == [
        (c, "conflict"),
        ("7QK-5D", "not_found"),
    ]
    assert till.state.state_hash() != before
    assert queries.find_check(till.state, "2")["id"] == b  # type: ignore[index]
    assert queries.find_check(till.state, c)["number"] is None  # type: ignore[index]
    assert till.err("invalid", "checks_numbered", by="@sync", numbers=[])
    assert till.err("invalid", "checks_numbered", by="@sync", numbers=[{"check": b}])
    assert till.err("forbidden", "checks_numbered", by="m-eve", numbers=[{"check": b, "number": 2}])


def test_only_the_sync_agent_commits_cloud_commands() -> None:
    till = Till()
    check = till.open()
    assert till.err("forbidden", "check_numbered", by="m-eve", check=check, number=5)
    assert till.err("forbidden", "catalog_update", by="m-eve", catalog=sample_catalog(version=2))
    assert till.err("forbidden", "synced", by="s-ana", acks=[])


def test_catalog_update_needs_a_newer_version_and_a_consistent_catalog() -> None:
    till = Till()
    assert (
        "not newer"
        in till.err("conflict", "catalog_update", by="@sync", catalog=sample_catalog()).message
    )
    broken = sample_catalog(version=2)
    broken["items"]["ipa"]["station"] = "moon"
    assert (
        "items.ipa.station"
        in till.err("invalid", "catalog_update", by="@sync", catalog=broken).message
    )
    fractional = sample_catalog(version=2)
    fractional["items"]["ipa"]["price"] = 8.5
    assert (
        "fractional"
        in till.err("invalid", "catalog_update", by="@sync", catalog=fractional).message
    )
    fractional["items"]["ipa"]["price"] = 850
    fractional["site"]["rating"] = 4.5  # even where the ledger does not look
    assert till.err("invalid", "catalog_update", by="@sync", catalog=fractional)
    bad_role = sample_catalog(version=2)
    bad_role["staff"]["s-ana"]["role"] = "owner"
    assert till.err("invalid", "catalog_update", by="@sync", catalog=bad_role)
    new = sample_catalog({"s-ana": "$argon2id$v=19$..."}, version=2)
    new["items"]["ipa"]["price"] = 900
    new["eighty_six"] = ["salmon"]
    till.ok("catalog_update", by="@sync", catalog=new)
    check = till.open()
    till.add(check, {"item": "ipa"})
    assert till.state.checks[check]["lines"][0]["unit_price"] == 900
    assert till.err("item_86d", "add_items", check=check, items=[{"item": "salmon"}])
    assert till.state.catalog is not None
    assert till.state.catalog["staff"]["s-ana"]["pin_hash"] == "$argon2id$v=19$..."


def test_a_menu_change_does_not_reprice_an_open_check() -> None:
    till = Till()
    check = till.open()
    till.add(check, {"item": "ipa"})
    new = sample_catalog(version=2)
    new["items"]["ipa"]["price"] = 1
    till.ok("catalog_update", by="@sync", catalog=new)
    assert till.state.checks[check]["lines"][0]["unit_price"] == 800


def test_inactive_staff_cannot_act() -> None:
    till = Till()
    new = sample_catalog(version=2)
    new["staff"]["s-ben"]["active"] = False
    till.ok("catalog_update", by="@sync", catalog=new)
    assert till.err("forbidden", "clock_in", by="s-ben")


def test_synced_clears_the_backlog_until_the_next_change() -> None:
    till = Till()
    check = till.open()
    till.add(check, {"item": "ipa"})
    waiting = queries.unsynced_records(till.state)
    keys = {w["key"]: w["version"] for w in waiting}
    assert keys[f"check:{check}"] == 2
    acks = [{"key": k, "version": v} for k, v in keys.items()] + [{"key": "check:X", "version": 1}]
    assert till.ok("synced", by="@sync", acks=acks) == {"acknowledged": len(keys), "unknown": 1}
    assert queries.unsynced_count(till.state) == (0, None)
    assert queries.find_check(till.state, check)["synced"] is True  # type: ignore[index]
    till.add(check, {"item": "ipa"}, by="s-ana")
    count, oldest = queries.unsynced_count(till.state)
    assert count == 1 and oldest == till.now
    summary = queries.day_summary(till.state, now_ms=till.now + 3 * MINUTE)
    assert summary["oldest_unsynced_age_ms"] == 3 * MINUTE


def test_an_old_ack_does_not_mark_a_newer_change_synced() -> None:
    till = Till()
    check = till.open()
    till.add(check, {"item": "ipa"})  # version 2
    till.ok("synced", by="@sync", acks=[{"key": f"check:{check}", "version": 1}])
    assert till.state.sync[f"check:{check}"]["dirty_since"] is not None
    till.ok("synced", by="@sync", acks=[{"key": f"check:{check}", "version": 99}])
    assert till.state.sync[f"check:{check}"]["synced_version"] == 2
