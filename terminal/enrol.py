"""Enrolling this terminal on first run: the join off the UI thread, its refusals in words.

``mesh.client.join.join_site`` blocks for seconds (an mDNS browse, then the
leader commits the device's key), so ``enrol_in_background`` runs it on a thread
of its own; the screen hops the outcome back to the UI thread. The refusals
(wrong, used or expired code, a name already taken, too many tries, no site or
several sites on this network) are turned into sentences a server can act on
here, next to the code that reads them, rather than in the screen.

Must never import Kivy or touch a widget: the screen does that with the
``EnrolOutcome``, and the words are tested without a window.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mesh.client import join

log = logging.getLogger(__name__)

ROLE = "terminal"
DEFAULT_PORT = 7400
CODE_CHARS = 8  # a manager's code: 8 letters and digits, shown as ABCD-EFGH
CODE_GROUP = CODE_CHARS // 2


def format_code(typed: str) -> str:
    """What the code field shows for ``typed``: upper case, letters and digits, ABCD-EFGH.

    Confusable letters (O for 0, I or L for 1) are left for the site to read: it
    maps them itself, so what the manager's screen shows can be typed as seen.
    """
    chars = "".join(ch for ch in typed.upper() if ch.isascii() and ch.isalnum())[:CODE_CHARS]
    if len(chars) <= CODE_GROUP:
        return chars
    return f"{chars[:CODE_GROUP]}-{chars[CODE_GROUP:]}"


def code_complete(shown: str) -> bool:
    return len(shown.replace("-", "")) == CODE_CHARS


def port_number(typed: str) -> int | None:
    """The port typed, or None when it is not one a device can listen on."""
    if not (typed.isascii() and typed.isdigit()):
        return None
    port = int(typed)
    return port if 1 <= port <= 65535 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolRequest:
    """What the screen asked for; ``site`` is None until several sites made the server pick one."""

    code: str
    name: str
    address: str
    port: int
    site: str | None = None

    @property
    def bind(self) -> str:
        return f"tcp://{self.address}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrolOutcome:
    """The join's result for the screen: ``joined`` on success, else why, in words."""

    joined: join.JoinedSite | None = None
    reason: str = ""  # the site's or the join's error code ("" on success)
    words: str = ""
    sites: tuple[str, ...] = ()  # with reason "several_sites": the sites to choose from
    wait_s: int = 0  # with reason "rate_limited": how long the site refuses every code


_WORDS = {
    "wrong_code": (
        "This code is not right. Check it against the manager's screen and tap Enrol again."
    ),
    "malformed_code": "A code has 8 letters and digits, like 7KQ2-M9XD.",
    "used_code": "This code was already used. Ask the manager for a new code.",
    "expired_code": (
        "This code has expired (a code lasts 10 minutes). Ask the manager for a new code."
    ),
    "exists": "This terminal is already set up: close it and start it again.",
    "no_site": (
        "No site was found on this network. Check that this terminal is on the "
        "restaurant's network (the address chosen above) and that another device "
        "of the site is running, then tap Enrol again."
    ),
    "several_sites": "Several sites answer on this network. Tap yours below.",
    "no_answer": (
        "The site's devices did not answer (they may be choosing a leader). Tap Enrol again."
    ),
    "invalid": (
        "The site refused this terminal's details. Check its name and its address, "
        "then tap Enrol again."
    ),
}


def explain(
    reason: str,
    message: str,
    request: EnrolRequest,
    *,
    sites: tuple[str, ...] = (),
    retry_in_s: float | None = None,
) -> EnrolOutcome:
    """The refusal ``reason`` (``JoinRefused.code``) with its ``message``, for a server.

    ``sites`` (several sites answered) and ``retry_in_s`` (too many tries) are the
    refusal's own facts, never read back out of its words.
    """
    text: str | None = _WORDS.get(reason)
    wait_s = 0
    if reason == "several_sites":
        if not sites:  # no list to choose from: the site's own words still say it
            text = None
    elif reason == "rate_limited":
        wait_s = math.ceil(retry_in_s) if retry_in_s else 0
        wait = f"{wait_s} s" if wait_s else "a minute"
        text = f"Too many wrong codes were tried. Wait {wait}, then tap Enrol again."
    elif reason == "address_in_use":
        text = f"Port {request.port} is already in use on this terminal: type another port."
    elif reason == "bad_address":
        text = (
            f"This terminal cannot listen on {request.address}:{request.port} ({message}). "
            "Choose another address or port."
        )
    elif reason == "exists" and "already holds" not in message:
        text = (
            f"A device named {request.name} is already part of this site. "
            "Choose another name for this terminal (for example bar-3)."
        )
    elif reason == "no_site" and request.site is not None and "not on this network" in message:
        text = (
            f"The site {request.site} no longer answers on this network. "
            "Check that a device of the site is running, then tap Enrol again."
        )
    elif reason == "invalid" and "device name" in message:
        text = (
            f"{request.name!r} can't be a device name: use letters, digits and dashes, "
            "like bar-2 (at most 31)."
        )
    if text is None:
        text = (message[:1].upper() + message[1:]) if message else f"Not enrolled ({reason})."
    return EnrolOutcome(
        reason=reason, words=text, sites=sites if reason == "several_sites" else (), wait_s=wait_s
    )


def enrol_in_background(
    data_dir: Path, request: EnrolRequest, on_done: Callable[[EnrolOutcome], None]
) -> threading.Thread:
    """Join the site on a thread of its own; then ``on_done(outcome)``, on that thread.

    ``on_done`` must hand the outcome to the UI thread itself (``Clock.schedule_once``).

    The thread is a daemon: a server closing the window mid-join must not be
    held up by an mDNS browse (the data directory is only written at the end,
    atomically, once the site said yes).
    """

    def work() -> None:
        try:
            joined = join.join_site(
                data_dir,
                request.code,
                name=request.name,
                role=ROLE,
                bind=request.bind,
                site=request.site,
            )
            outcome = EnrolOutcome(joined=joined)
        except join.JoinRefused as refused:
            log.warning("enrolment refused: %s (%s)", refused.code, refused)
            outcome = explain(
                refused.code,
                str(refused),
                request,
                sites=refused.sites,
                retry_in_s=refused.retry_in_s,
            )
        except Exception as exc:  # zeroconf or a socket on that address: say it, keep the screen
            log.exception("enrolment failed")
            outcome = EnrolOutcome(
                reason="failed",
                words=f"Could not enrol from {request.address} ({exc}). "
                "Check the address, then tap Enrol again.",
            )
        on_done(outcome)

    thread = threading.Thread(target=work, name="terminal-enrol", daemon=True)
    thread.start()
    return thread
