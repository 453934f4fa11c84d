"""Every number the wire depends on: versions, sizes, queue depths and timings.

Each constant carries its unit in a comment. Code elsewhere in ``mesh.net`` reads
them as ``constants.NAME`` at the moment it needs them (never ``from ... import``),
so a test can shrink a timing with ``monkeypatch.setattr``. This module must never
hold state or do I/O.
"""

from __future__ import annotations

# --- schema -----------------------------------------------------------------

PROTOCOL_VERSION = 1  # wire protocol version carried in every frame; bump on any change
# Bytes; largest encoded frame accepted or sent. A snapshot travels in one frame:
# after 100,000 add_items in one business day it was 4.8 MB (zlib), so 4 MiB would
# leave a follower that fell behind such a day unable ever to catch up. Only
# enrolled, CURVE-authenticated peers can send frames this large.
MAX_FRAME_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 16  # nesting levels of dicts/lists inside a command, outcome or extra
MAX_ID_CHARS = 31  # characters in a node id or site id (fits an mDNS instance label)
MAX_REQ_ID_CHARS = 128  # characters in a forwarded request's id
MAX_TEXT_CHARS = 4096  # characters in a free-text field (an error message)
MAX_TAG_CHARS = 32  # characters in a short label (role, dot, error code)
MAX_ADDRESS_CHARS = 256  # characters in a tcp://host:port address
MAX_GUEST_FRAME_BYTES = 64 * 1024  # bytes; largest guest door frame (an answer lists the site)

# --- transport --------------------------------------------------------------

ZAP_DOMAIN = "tablemesh"  # ZAP domain the ROUTER asks the authenticator about
SEND_HWM = 256  # messages queued per peer before send() drops (Raft retries)
RECV_HWM = 4096  # messages queued on our ROUTER before peers feel backpressure
LINGER_MS = 0  # ms to keep unsent messages after close: none, Raft retries
RECONNECT_IVL_MS = 100  # ms before the first reconnect attempt to a peer
RECONNECT_IVL_MAX_MS = 2000  # ms; cap of the exponential reconnect backoff
HEARTBEAT_IVL_MS = 1000  # ms between ZMTP pings on an idle connection
HEARTBEAT_TIMEOUT_MS = 3000  # ms without traffic before a connection is declared dead
HANDSHAKE_IVL_MS = 5000  # ms allowed for a CURVE handshake to complete
AUTH_RETRY_S = 5.0  # s before re-dialling a peer that refused our key (libzmq gives up)
DROP_LOG_INTERVAL_S = 10.0  # s between two log lines about the same drop reason

# --- the guest door (mesh.net.guest) ---------------------------------------------

GUEST_ZAP_DOMAIN = "tablemesh-guest"  # ZAP domain of the door: any CURVE key is let in
GUEST_HANDSHAKES_PER_S = 5.0  # new guest connections admitted per second (then refused)
GUEST_HANDSHAKE_BURST = 20  # ... with this many at once
GUEST_REQUESTS_PER_S = 2.0  # guest requests handled per second (more are answered "busy")
GUEST_REQUEST_BURST = 10
GUEST_IN_FLIGHT = 4  # guest requests being handled at once
GUEST_RECV_HWM = 64  # guest frames queued before libzmq pushes back
GUEST_ANSWER_TIMEOUT_S = 20.0  # s a guest waits for an answer (a commit on the leader)

# --- discovery --------------------------------------------------------------

MDNS_SERVICE_TYPE = "_tablemesh._tcp.local."  # DNS-SD service type we advertise
MDNS_RESOLVE_TIMEOUT_MS = 3000  # ms to wait for a browsed service's SRV/TXT/A records
