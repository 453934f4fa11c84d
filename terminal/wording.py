"""What a server reads when something goes wrong: the node's error codes, in plain words.

The ledger's own messages are already written for people (``item 'Ribeye 14oz'
is 86'd``), so a refusal shows them as they are; what needs words here are the
cluster's answers (no quorum, timeout, the node not answering), which say what
happened to the order and what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Not acknowledged: nothing is promised yet, so the same command (same id) may be
# sent again; the ledger applies an id once, so a retry can never double a sale.
RETRYABLE = frozenset({"no_quorum", "timeout", "unreachable", "leadership_lost"})

CLUSTER_WORDS = {
    "no_quorum": (
        "This terminal can't reach the other devices right now, so this is not confirmed. "
        "What you entered is kept: tap Retry. It will only count once."
    ),
    "timeout": (
        "Not confirmed yet (the network is slow or a device just restarted). "
        "What you entered is kept: tap Retry. It will only count once."
    ),
    "unreachable": (
        "This terminal's own node is not answering. What you entered is kept: tap Retry."
    ),
    "leadership_lost": "The devices are choosing a new leader. Tap Retry: it will only count once.",
    "wrong_pin": "Wrong PIN. Try again.",
    "bad_request": "The terminal sent something the node did not understand.",
}


REQUIRES_AUTHORIZATION = (
    "This tender needs the approval code the card terminal gave. Tap it again and "
    "type the code, or take cash or another tender."
)


def error_code(reply: Mapping[str, Any]) -> str:
    return str((reply.get("error") or {}).get("code", "unknown"))


def is_retryable(reply: Mapping[str, Any]) -> bool:
    return not reply.get("ok") and error_code(reply) in RETRYABLE


def explain(reply: Mapping[str, Any]) -> str:
    """One or two sentences a server understands, for a reply that is not ok."""
    error = reply.get("error") or {}
    code = str(error.get("code", "unknown"))
    message = str(error.get("message", "")).strip()
    if code == "locked":
        wait = int(float(error.get("retry_in_s", 0)) + 0.99)
        return f"Too many wrong PINs. The pad unlocks in {wait} s."
    if code in CLUSTER_WORDS:
        return CLUSTER_WORDS[code]
    if code == "not_leader":
        # Only the leading device makes enrolment codes; the op is not forwarded.
        leader = reply.get("leader") or error.get("leader")  # the node puts it beside "error"
        where = f"device {leader}" if leader else "the leading device once there is one"
        return (
            "Only the device that leads the site can do this, and this one does not lead "
            f"right now. Do it on {where} (tap the dot to see which one leads)."
        )
    if code == "requires_cloud":
        # What is missing is the card terminal's approval code, online or offline; this
        # terminal asks for it when the tender is tapped, so say how to give it.
        return REQUIRES_AUTHORIZATION
    if message:
        return message[0].upper() + message[1:]
    return f"Refused ({code})."
