"""This device's temporary check ID counter: never repeats, not even across a kill -9.

Numbers are reserved in blocks: before handing out any number of a block, the
end of the block is written and fsynced. After a crash the counter resumes at
the reserved end, so a few numbers may be skipped but none is ever reused (two
checks with one ID would be one check to the ledger).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mesh.ledger.check_ids import make_temp_id

BLOCK = 64  # numbers reserved per fsync
# When the file is lost, numbers this far above the highest one the log shows are
# skipped too: IDs handed out whose commands had not reached this node's log yet.
LOST_FILE_GAP = 16 * BLOCK


class CheckCounter:
    """Thread-safe: the UI thread and the control socket may both open checks."""

    def __init__(self, path: Path, device_prefix: str, *, at_least: int = 1) -> None:
        """``at_least``: the first number that may be handed out (a lost file's floor)."""
        self._path = path
        self._prefix = device_prefix
        self._lock = threading.Lock()
        reserved = self._read_reserved()
        self._next = max(reserved, at_least)
        self._reserved = self._next
        if at_least > reserved:
            # Written now, so the floor is found in the file from the next start on
            # (a screen that never opens a check would otherwise reckon it every time).
            self._reserve(self._next)

    def _read_reserved(self) -> int:
        try:
            text = self._path.read_text().strip()
        except FileNotFoundError:
            return 1
        if not (text.isascii() and text.isdigit()):
            # A torn write of the reservation: skip far ahead rather than risk reuse.
            raise ValueError(f"{self._path} is corrupt ({text[:20]!r}); restore or remove it")
        return int(text)

    def _reserve(self, upto: int) -> None:
        tmp = self._path.with_name(f".{self._path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, f"{upto}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._reserved = upto

    def next_id(self) -> str:
        with self._lock:
            if self._next >= self._reserved:
                self._reserve(self._next + BLOCK)
            n = self._next
            self._next += 1
        return make_temp_id(self._prefix, n)
