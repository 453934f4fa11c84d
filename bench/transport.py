"""Transport figure: CPU per round trip of two CURVE transports in one process.

    python bench/transport.py            # 5,000 round trips, 3 rounds
    python bench/transport.py --quick    # 1,000 round trips, 1 round

Two ``mesh.net.transport.Transport`` on 127.0.0.1 in one asyncio loop: one sends
a ``NodeStatus`` to the other, which answers with one; repeat. Prints, per round
trip, the process's CPU (the loop thread plus libzmq's I/O threads), the loop
thread's CPU alone (encode, decode, waiting and waking: what the node's loop pays
per message), and the wall time. CPU is the figure other load on the machine moves
least; the wall time is printed for completeness.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mesh.net.keys import generate_keypair
from mesh.net.schema import NodeStatus
from mesh.net.transport import PeerInfo, Transport

READY_S = 10.0  # s the two transports get to finish their handshakes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(node: str) -> NodeStatus:
    return NodeStatus(
        node=node, role="follower", term=1, applied=0, leader=None, dot="green", extra={}
    )


class Clocks:
    """The process's CPU, the calling (loop) thread's CPU and the wall clock, read together."""

    def __init__(self) -> None:
        self.cpu, self.loop_cpu = time.process_time(), time.thread_time()
        self.wall = time.perf_counter()

    def per_op_us(self, count: int) -> dict[str, float]:
        """Each clock's advance since this was made, per op, in microseconds."""
        us = 1e6 / count
        return {
            "process_cpu_us": (time.process_time() - self.cpu) * us,
            "loop_thread_cpu_us": (time.thread_time() - self.loop_cpu) * us,
            "wall_us": (time.perf_counter() - self.wall) * us,
        }


async def round_trips(count: int) -> dict[str, float]:
    keys = {n: generate_keypair() for n in ("a", "b")}
    ports = {n: _free_port() for n in ("a", "b")}
    nodes: dict[str, Transport] = {}
    for me, other in (("a", "b"), ("b", "a")):
        nodes[me] = Transport(
            node_id=me,
            site="bench",
            bind_addr=f"tcp://127.0.0.1:{ports[me]}",
            keypair=keys[me],
            peers={
                other: PeerInfo(
                    address=f"tcp://127.0.0.1:{ports[other]}", public_key=keys[other].public
                )
            },
            allowed_keys={other: keys[other].public},
        )
        await nodes[me].start()
    a, b = nodes["a"], nodes["b"]

    async def echo() -> None:
        while True:
            await b.recv()
            b.send("a", _status("b"))

    echoing = asyncio.create_task(echo())
    try:
        deadline = time.monotonic() + READY_S
        while True:  # until the handshakes are done and a first round trip works
            if time.monotonic() > deadline:
                raise RuntimeError("the transports did not connect")
            if a.send("b", _status("a")):
                try:
                    await asyncio.wait_for(a.recv(), 0.2)
                    break
                except TimeoutError:
                    pass
            await asyncio.sleep(0.05)
        clocks = Clocks()
        for _ in range(count):
            a.send("b", _status("a"))
            await a.recv()
        return clocks.per_op_us(count)
    finally:
        echoing.cancel()
        for t in nodes.values():
            await t.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, rounds = (1_000, 1) if args.quick else (5_000, 3)
    for i in range(rounds):
        r = asyncio.run(round_trips(count))
        print(
            f"round {i + 1}: {count} round trips; per round trip: process CPU "
            f"{r['process_cpu_us']:.0f} us, loop thread CPU {r['loop_thread_cpu_us']:.0f} us, "
            f"wall {r['wall_us']:.0f} us"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
