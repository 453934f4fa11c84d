"""A node whose first snapshot write fails as on a full disk; for test_disk_faults.py.

``python -m tests.fault.brittle_disk_node DATA`` runs ``tablemesh node --data DATA``
with one change: the store's first ``compact`` (the snapshot write that follows
every ``snapshot_every`` applied entries) raises SQLite's "database or disk is full",
exactly what a full data partition raises there. Everything else is the real node.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path
from typing import Any

from mesh import logs
from mesh.node.runner import run_node
from mesh.node.store import SQLiteStorage


def main() -> None:
    original = SQLiteStorage.compact
    failed: list[bool] = []

    def compact_once_full(self: SQLiteStorage, snapshot: Any) -> None:
        if not failed:
            failed.append(True)
            raise sqlite3.OperationalError("database or disk is full")
        original(self, snapshot)

    SQLiteStorage.compact = compact_once_full  # type: ignore[method-assign]
    logs.configure("INFO")
    sys.exit(asyncio.run(run_node(Path(sys.argv[1]))))


if __name__ == "__main__":
    main()
