"""Write figure: one Ready's write on the loop itself against on a worker thread.

    python bench/writes.py            # 2,000 writes a way, 3 rounds
    python bench/writes.py --quick    # 500 writes a way, 1 round

Each write is what a node does for a one-entry Ready: ``SQLiteStorage.write_ready``
(one transaction, one fsync) on a temporary file. Done from an asyncio loop three
ways, alternating: called on the loop ("loop"), through ``asyncio.to_thread``
("to_thread", what the node did before), and through one kept thread fed by a queue
("kept thread"). Prints, per write, the process's CPU, the loop thread's CPU and
the wall time: the difference between the ways is the price of the hand-over
(docs/architecture.md, "Writes, on the loop").
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from transport import Clocks  # bench/transport.py

from mesh.node.store import SQLiteStorage
from mesh.raft.types import Entry, HardState

WAYS = ("loop", "to_thread", "kept thread")


class KeptThread:
    """One writer thread for the whole run; the loop is told of each end."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._jobs: queue.SimpleQueue[tuple[Callable[[], None], asyncio.Future[None]] | None]
        self._jobs = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="bench-writer")
        self._thread.start()

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            work, done = job
            work()
            self._loop.call_soon_threadsafe(done.set_result, None)

    async def run(self, work: Callable[[], None]) -> None:
        done = self._loop.create_future()
        self._jobs.put((work, done))
        await done

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(10)


async def one_way(store: SQLiteStorage, way: str, count: int, first: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    kept = KeptThread(loop) if way == "kept thread" else None
    index = first
    try:
        clocks = Clocks()
        for _ in range(count):
            index += 1
            entry = Entry(term=1, index=index, data=b"x" * 120)

            def work(entry: Entry = entry) -> None:
                store.write_ready(None, [entry], HardState(term=1, vote="n1", commit=entry.index))

            if way == "loop":
                work()
            elif way == "to_thread":
                await asyncio.to_thread(work)
            else:
                assert kept is not None
                await kept.run(work)
            store.absorb_ready(None, [entry], None)  # on the loop, as the node does
        return clocks.per_op_us(count)
    finally:
        if kept is not None:
            kept.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, rounds = (500, 1) if args.quick else (2_000, 3)
    with tempfile.TemporaryDirectory(prefix="tmwrites-") as tmp:
        store = SQLiteStorage(Path(tmp) / "raft.db")
        try:
            written = 0
            for i in range(rounds):
                for way in WAYS:
                    r = asyncio.run(one_way(store, way, count, written))
                    written += count
                    print(
                        f"round {i + 1}, {way:>11}: {count} one-entry writes; per write: "
                        f"process CPU {r['process_cpu_us']:.0f} us, loop thread CPU "
                        f"{r['loop_thread_cpu_us']:.0f} us, wall {r['wall_us']:.0f} us"
                    )
        finally:
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
