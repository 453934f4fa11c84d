"""``revoke`` of a device already revoked answers the documented shape: ``index`` too.

docs/ctl.md gives ``{"ok": true, "node", "index"}``; a second revocation once left
``index`` out, so a script that waits for ``index`` on the other nodes broke on it.
The whole path over the control socket, on four processes, is in
test_membership_process (``-k revoked``).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from mesh.node.admission import Admission
from mesh.node.config import PeerConfig
from mesh.node.node import Node
from mesh.node.roster import Roster
from mesh.raft.raft import Role

VICTIM_KEY = "k" * 40


def _leader_with_a_revoked_device(applied_index: int) -> Any:
    """Just enough of a leader whose roster already revoked t4's key."""
    roster = Roster()
    roster.apply({"op": "revoke", "node": "t4", "key": VICTIM_KEY})
    victim = PeerConfig(address="tcp://10.0.0.4:7400", public_key=VICTIM_KEY)
    return SimpleNamespace(
        node_id="n1",
        replica=SimpleNamespace(
            role=Role.LEADER,
            leader="n1",
            roster=roster,
            ledger=SimpleNamespace(applied_index=applied_index),
        ),
        devices=lambda: {"t4": victim},
    )


def test_revoking_a_revoked_device_again_answers_an_index_and_commits_nothing() -> None:
    leader = _leader_with_a_revoked_device(applied_index=57)

    async def must_not_commit(record: dict[str, Any], timeout: float) -> Any:
        raise AssertionError(f"a second revocation committed {record}")

    leader.commit_record = must_not_commit
    reply = asyncio.run(Admission(cast(Node, leader)).revoke("t4"))
    # The revocation is in force at the applied index: a script waiting for the
    # other nodes to reach ``index`` waits as it would after the first revocation.
    assert reply == {"ok": True, "node": "t4", "index": 57, "already": True}
