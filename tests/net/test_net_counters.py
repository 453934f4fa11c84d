"""Drop counters count every drop but log a flood as one line per interval."""

from __future__ import annotations

import logging

import pytest

from mesh.net import constants
from mesh.net.counters import Counters


def test_drops_are_all_counted_and_logged_at_a_limited_rate(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("mesh.net.test")
    counters = Counters(logger)
    caplog.set_level(logging.INFO, logger="mesh.net.test")
    monkeypatch.setattr(constants, "DROP_LOG_INTERVAL_S", 3600.0)
    for _ in range(1000):
        counters.drop("rx.dropped.schema.malformed", "junk")
    counters.drop("rx.dropped.revoked", "key", logging.INFO)
    counters.inc("rx.accepted", 2)
    assert counters.snapshot() == {
        "rx.dropped.schema.malformed": 1000,
        "rx.dropped.revoked": 1,
        "rx.accepted": 2,
    }
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert len(lines) == 2  # one per reason, not one per drop
    assert lines[1][0] == logging.INFO
    monkeypatch.setattr(constants, "DROP_LOG_INTERVAL_S", 0.0)
    counters.drop("rx.dropped.schema.malformed", "junk")
    assert "999 more since the last line, 1001 in total" in caplog.records[-1].getMessage()
    assert caplog.records[-1].levelno == logging.WARNING
