"""Enrolment codes: short one-time codes a manager makes so a new device may join the site.

A code is 8 Crockford base32 characters shown as ``ABCD-EFGH`` (40 bits):
typed on a tablet in seconds, and with the wrong-attempt lockout (5 wrong codes
lock enrolment on that node for 60 s, doubling) and a lifetime of minutes it
cannot be guessed in time. Only the code's salted hash is ever written: the
offer is a roster record in the Raft log (``mesh.node.roster``), so any leader,
also a new one after a failover, honours it, and single use holds site-wide
(the first ``enrol`` record naming an offer consumes it; a later one is refused
identically on every node).

Over the network (the guest door, ``mesh.net.guest``) a device never sends the
code: it sends ``proof``, an HMAC keyed with the code's hash over its own key,
the key of the node it asks and what it asks for. A node that only pretends to
be the site (mDNS is unauthenticated) learns no code it could replay, and a
proof cannot be moved to another device's key or to another node.

Pure helpers only: the node keeps the lockout and proposes the records.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from mesh.ledger.check_ids import ALPHABET

CODE_CHARS = 8
DEFAULT_TTL_S = 600  # s a code stays valid: long enough to unbox and start a tablet
MAX_TTL_S = 3600
# Crockford's rule: letters people confuse with digits read as those digits.
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return f"{raw[:4]}-{raw[4:]}"


def normalize(code: str) -> str | None:
    """The code's canonical form (upper case, no dashes, confusables mapped); None if malformed."""
    text = code.strip().upper().replace("-", "").replace(" ", "").translate(_CONFUSABLE)
    if len(text) != CODE_CHARS or any(ch not in ALPHABET for ch in text):
        return None
    return text


def code_hash(site: str, code: str) -> str:
    """What the log keeps of a code: bound to the site, so a code is useless at another."""
    return hashlib.sha256(f"tablemesh-enrol:{site}:{code}".encode()).hexdigest()


def proof(
    digest: str, *, device_key: str, server_key: str, node: str, role: str, address: str
) -> str:
    """What a device sends instead of the code: bound to both keys and to its request."""
    message = "\0".join(("tablemesh-enrol-proof", device_key, server_key, node, role, address))
    return hmac.new(bytes.fromhex(digest), message.encode(), hashlib.sha256).hexdigest()


def offer_for_proof(
    digests: Iterable[str],
    sent: str,
    *,
    device_key: str,
    server_key: str,
    node: str,
    role: str,
    address: str,
) -> str | None:
    """The offer (code hash) whose code made ``sent``; None if no offer's did."""
    for digest in digests:
        expected = proof(
            digest,
            device_key=device_key,
            server_key=server_key,
            node=node,
            role=role,
            address=address,
        )
        if hmac.compare_digest(expected, sent):
            return digest
    return None
