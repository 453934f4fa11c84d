"""``tablemesh node``: run one node until SIGTERM or Ctrl-C, then stop cleanly.

A clean stop hands leadership over first (so nobody waits for an election
timeout), closes the sockets and the store, and exits 0.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from mesh.node.node import Node

EXIT_FATAL = 70  # EX_SOFTWARE: a node loop died; the supervisor should restart us


async def run_node(data_dir: Path) -> int:
    """Serve until a signal (exit 0) or until one of the node's loops dies (exit 70)."""
    node = Node(data_dir, freeze_heap=True)  # a process that is only a node (heap.py)
    try:
        await node.start()
    except BaseException:
        # What started before the failure (the control socket, the store) is closed,
        # so the next start finds no stale socket and the message is the only output.
        await node.stop(transfer=False)
        raise
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(node.fatal.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await node.stop(transfer=not node.fatal.is_set())
    return EXIT_FATAL if node.fatal.is_set() else 0
