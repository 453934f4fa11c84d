"""The guest door's answers survive its schema: a locked-out leader says ``rate_limited``.

The door's frames carry no floats (money is in minor units), while the control
socket's JSON does. An enrolment refused while the leader is locked out once put a
float wait in the answer, so a device with a valid code was told ``internal``.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any, cast

from mesh.net import schema
from mesh.net.schema import GuestAnswer, GuestEnrol
from mesh.node.admission import Admission, guest_answer
from mesh.node.node import Node
from mesh.raft.raft import Role


def _round_trip(answer: GuestAnswer) -> GuestAnswer:
    decoded = schema.decode_guest(schema.encode(answer))
    assert isinstance(decoded, GuestAnswer)
    return decoded


def test_a_locked_out_leader_answers_rate_limited_with_whole_seconds() -> None:
    # Just enough of a leader to reach the lockout check (the whole path over the
    # network is in test_enrol_network; the lockout's count in test_membership_process).
    leader = SimpleNamespace(
        replica=SimpleNamespace(role=Role.LEADER, leader="n1"),
        keys=object(),
        transport=object(),
        config=SimpleNamespace(site="site1"),
    )
    admission = Admission(cast(Node, leader))
    now = time.monotonic()
    for _ in range(5):
        admission.lockout.record(False, now - 0.37)  # a wait with a fraction left
    request = GuestEnrol(site="site1", node="n9", role="kds", address="", proof="0" * 64)
    answer = _round_trip(asyncio.run(admission.on_guest(request, "k" * 40)))
    assert not answer.ok and answer.error is not None
    assert answer.error["code"] == "rate_limited", answer.error
    wait = answer.error["retry_in_s"]
    assert isinstance(wait, int) and 0 < wait <= 60
    assert f"try again in {wait} s" in answer.error["message"]


def test_an_extra_the_door_cannot_carry_is_left_out_not_an_internal_error() -> None:
    reply: dict[str, Any] = {
        "ok": False,
        "error": {"code": "rate_limited", "message": "wait"},
        "retry_in_s": 12.5,
        "sites": ["a", "b"],
        "leader": "n2",
    }
    answer = _round_trip(guest_answer(reply))
    assert answer.error == {"code": "rate_limited", "message": "wait", "sites": ["a", "b"]}
    assert answer.leader == "n2"
    welcome = _round_trip(guest_answer({"ok": True, "site": "s", "prefix": "B"}))
    assert welcome.ok and welcome.result == {"site": "s", "prefix": "B"}
