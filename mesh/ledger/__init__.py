"""The restaurant as a deterministic state machine: commands, ``apply``, queries, snapshots.

Every node applies the same committed log here and reaches byte-identical state.
Validation happens inside ``apply``, identically everywhere.

Must never import: anything else of this project, sockets, asyncio, threading,
time, random, sqlite3 or any other I/O. ``apply`` never reads a clock or
randomness: the leader stamps the time on each entry. ``models`` declares the
SQLAlchemy tables (declarations only; the engine and the file belong to the node).

Public API: ``LedgerState`` (``snapshot``, ``restore``, ``state_hash``),
``LedgerEntry``, ``apply``, ``Outcome``, ``LedgerError``; queries live in
``mesh.ledger.queries`` and tables in ``mesh.ledger.models`` (import it
explicitly: it is the only module that needs SQLAlchemy).
"""

from mesh.ledger.apply import apply
from mesh.ledger.entry import LedgerEntry, Outcome, decode_payload, encode_payload
from mesh.ledger.errors import ERROR_CODES, LedgerError, OutOfOrderEntry
from mesh.ledger.state import LedgerState, restore

__all__ = [
    "ERROR_CODES",
    "LedgerEntry",
    "LedgerError",
    "LedgerState",
    "OutOfOrderEntry",
    "Outcome",
    "apply",
    "decode_payload",
    "encode_payload",
    "restore",
]
