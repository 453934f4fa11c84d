"""The restaurant as a deterministic state machine: commands, ``apply``, queries, snapshots.

Every node applies the same committed log here and reaches byte-identical state.
Validation happens inside ``apply``, identically everywhere.

Must never import: anything else of this project, sockets, asyncio, threading,
time, random, sqlite3 or any other I/O. ``apply`` never reads a clock or
randomness: the leader stamps the time on each entry. ``models`` declares the
SQLAlchemy tables (declarations only; the engine and the file belong to the node).
"""
