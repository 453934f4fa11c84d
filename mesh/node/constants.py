"""Every timing and size the node depends on, with its unit, in one place.

Code reads them as ``constants.NAME`` when it needs them (never ``from ...
import NAME``), so a test can shrink one with ``monkeypatch.setattr``. The values
suit a restaurant LAN: a new leader well under a second after the old one dies,
without spurious elections when a tablet's Wi-Fi hiccups for a few hundred ms.
"""

from __future__ import annotations

TICK_MS = 50  # ms per Raft tick
ELECTION_TICKS = 8  # ticks; the election timeout is randomised in [8, 16) ticks = 0.4-0.8 s
# Heartbeats every 100 ms: still four in the shortest election timeout. Going from
# 50 to 100 ms cut an idle 5-node site's CPU by 12-27 %, CPU its commits compete
# with on a small machine (docs/benchmarks.md, night of 2026-12-02).
HEARTBEAT_TICKS = 2  # ticks between leader heartbeats (100 ms)
# A tick wakes the node's pumper only when it made work (a heartbeat, a campaign), and
# otherwise once in this many ticks (0.5 s): an idle follower's tick is only counting.
IDLE_PUMP_TICKS = 10  # ticks
MAX_INFLIGHT = 256  # append messages in flight per follower (pipelining)
MAX_MSG_BYTES = 1 << 20  # bytes of entries per append message

SNAPSHOT_EVERY = 5000  # applied entries between ledger snapshots (and log compaction)
HASH_IN_CHILD_ABOVE = 200  # checks + tickets from which `ctl status` hashes the ledger off the loop
SNAPSHOT_RETRY_S = 5.0  # s after a failed background snapshot before the next try
WRITE_SLOW_S = 0.05  # s a write on the loop may take before writes go to a thread
WRITE_THREAD_FOR_S = 30.0  # s writes stay on a thread after a slow one
GC_FREEZE_EVERY = 1000  # applied entries between two collect-and-freeze of a node's heap

SUBMIT_TIMEOUT_S = 5.0  # s a client waits for its command to be committed and applied
FORWARD_RETRY_S = 0.5  # s before a follower re-sends a forwarded command (same id)
NO_LEADER_POLL_S = 0.05  # s between looks for a leader while none is known
APPLY_WAIT_S = 2.0  # s a follower waits to apply locally what the leader acknowledged

STATUS_GOSSIP_S = 0.25  # s between two NodeStatus messages to every peer
CLOCK_FRESH_S = 2.0  # s a peer's gossiped wall clock counts towards the leader's stamp
CLOCK_WARN_S = 60.0  # s this device's clock may differ from the mesh's before a warning
QUORUM_CONTACT_S = 1.0  # s without hearing the leader (or a quorum) before the dot says cut off
MEMBERSHIP_CHECK_S = 0.25  # s between two looks of the leader at its voters (docs/membership.md)
TRANSFER_WAIT_S = 1.5  # s a leader shutting down waits for its successor to take over

LOOP_STALL_WARN_S = 0.3  # s the loop may be held up before the watchdog logs it (elections: 0.4 s)
CONTROL_TIMEOUT_S = 10.0  # s `ctl` waits for the node's answer
