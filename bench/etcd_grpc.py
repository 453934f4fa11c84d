"""etcd's own 1-client latency on this machine, over gRPC and over its JSON gateway.

    python bench/etcd_grpc.py [--puts N]

The issue's targets for one client (p50 1.0 ms, p99 2.5 ms) quote etcd 3.4 on "a
2-core machine like ours" at 1.36 / 2.46 ms. This measures the same etcd, here:
a 3-member cluster on 127.0.0.1 started as ``bench/peers.py`` starts it (fsync
on, etcd's defaults), one client putting 100-byte values in sequence through the
leader, first over gRPC (the ``etcd3`` package, not a dependency of the project:
``pip install etcd3 'protobuf<3.21'`` in a separate environment), then over the
JSON gateway that ``bench/peers.py`` uses. Without ``etcd`` or ``etcd3`` it says
which is missing and exits 0.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # bench/peers.py: the etcd cluster and its JSON client


def figures(lat: list[float]) -> str:
    lat = sorted(lat)
    n = len(lat)
    return f"p50 {lat[n // 2] * 1000:.2f} ms, p99 {lat[min(n - 1, int(n * 0.99))] * 1000:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("etcd") is None:
        print("etcd: not on PATH, nothing measured (apt-get install etcd-server)")
        return 0
    try:
        import etcd3
    except ImportError:
        print("etcd3 (the gRPC client) is not installed here, nothing measured")
        return 0
    cluster = peers.Etcd(3)
    try:
        leader = cluster.leader()
        grpc = etcd3.client(host="127.0.0.1", port=cluster.client_port[leader])
        for _ in range(50):
            grpc.put("warm", "v" * 100)
        lat = []
        for i in range(args.puts):
            started = time.perf_counter()
            grpc.put(f"key{i % 100}", "v" * 100)
            lat.append(time.perf_counter() - started)
        print(f"etcd, 3 members, 1 client via the leader, gRPC: {figures(lat)} ({args.puts} puts)")
        gateway = cluster.client(leader)
        lat = []
        for _ in range(args.puts):
            started = time.perf_counter()
            assert gateway.submit()
            lat.append(time.perf_counter() - started)
        gateway.close()
        print(f"etcd, 3 members, 1 client via the leader, JSON gateway: {figures(lat)}")
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
