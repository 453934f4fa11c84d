"""Staff PINs: slow salted hashes (argon2id), verified on the device, with lockout.

The ledger only ever holds the hash strings (from the catalog); a PIN itself is
never written to the log, a file or the network. Verification is deliberately
slow (tens of milliseconds) so that a stolen catalog cannot be brute-forced over
the 10,000 four-digit PINs in a coffee break, and a device locks its PIN pad
after repeated failures so nobody can try them at the counter either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Interactive-login costs: ~50 ms on a small ARM tablet's worth of CPU; memory
# kept modest so that a kiosk with 1 GB of RAM is never pushed into swap.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MAX_FAILURES = 5  # wrong PINs in a row before the pad locks
LOCKOUT_SECONDS = 60.0  # how long the pad stays locked; doubles each time it locks again
MAX_LOCKOUT_SECONDS = 15 * 60.0


def hash_pin(pin: str) -> str:
    """A salted argon2id hash of ``pin`` (digits only, 4 to 8 of them)."""
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise ValueError("a PIN is 4 to 8 digits")
    return _HASHER.hash(pin)


def pin_matches(pin_hash: str, pin: str) -> bool:
    try:
        return _HASHER.verify(pin_hash, pin)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def find_staff(staff_hashes: Mapping[str, str], pin: str) -> str | None:
    """The staff id whose PIN is ``pin``, if any.

    Stops at the first match: checking every hash would make each login cost a
    hash per staff member (seconds on a tablet for a large team), and the only
    thing the timing reveals is the match's place in an order nobody can see.
    A wrong PIN always costs the full pass, which slows guessing further.
    """
    for staff_id, pin_hash in sorted(staff_hashes.items()):
        if pin_matches(pin_hash, pin):
            return staff_id
    return None


@dataclasses.dataclass
class Lockout:
    """Counts wrong PINs on one device and locks the pad for a while after too many.

    Time is passed in (monotonic seconds) so the rules are testable without sleeping.
    """

    failures: int = 0
    locked_until: float = 0.0
    lockouts: int = 0

    def locked(self, now: float) -> float:
        """Seconds the pad stays locked from ``now`` (0 when it is open)."""
        return max(0.0, self.locked_until - now)

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.failures = 0
            self.lockouts = 0
            return
        self.failures += 1
        if self.failures >= MAX_FAILURES:
            self.lockouts += 1
            span = min(LOCKOUT_SECONDS * 2 ** (self.lockouts - 1), MAX_LOCKOUT_SECONDS)
            self.locked_until = now + span
            self.failures = 0


def hash_all(pins: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{staff_id: hash}`` for ``(staff_id, pin)`` pairs (used when a site is set up)."""
    return {staff_id: hash_pin(pin) for staff_id, pin in pins}
