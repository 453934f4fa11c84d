"""One device of a bench site whose client lives in the node's own process, as the apps run.

A terminal or a KDS hosts its node (``mesh.client.EmbeddedNode``) and submits through
``LocalClient``: a hand-off between two threads of one process, with no control socket
and no JSON in between. ``bench/cluster.py`` starts this script as one node of its
site and drives it over stdin/stdout, one JSON line each way:

- ``{"run": N}``: N commands back to back (``Client``'s adds, a new check every 20
  lines, after 20 untimed warm-up adds); answers ``{"role", "latencies_s", "errors"}``;
- ``{"quit": true}`` (or the end of stdin): stop the node and exit.

Run by hand: ``python bench/embedded_client.py DATA_DIR`` for a node of a site made by
``tablemesh site init``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cluster import Client  # noqa: E402

from mesh.client.api import ClientError, EmbeddedNode, LocalClient  # noqa: E402


class LocalConn:
    """``Client``'s connection, served by the node in this process."""

    def __init__(self, client: LocalClient) -> None:
        self.client = client

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        args = dict(message)
        op = args.pop("op")
        try:
            return self.client.call(op, **args)
        except (ClientError, TimeoutError) as exc:
            return {"ok": False, "error": {"code": "unavailable", "message": str(exc)}}

    def close(self) -> None:
        pass


def run(local: LocalClient, count: int) -> dict[str, Any]:
    client = Client(None, conn=LocalConn(local))
    for _ in range(20):
        client.add()  # warm up
    latencies: list[float] = []
    errors = 0
    for _ in range(count):
        dt, ok = client.step()
        if ok:
            latencies.append(dt)
        else:
            errors += 1
    role = local.status(with_hash=False).get("role")
    return {"role": role, "latencies_s": latencies, "errors": errors}


def main() -> int:
    node = EmbeddedNode(Path(sys.argv[1]))
    local = node.start()
    print(json.dumps({"ready": True}), flush=True)
    try:
        for line in sys.stdin:
            order = json.loads(line)
            if order.get("quit"):
                break
            print(json.dumps(run(local, int(order["run"]))), flush=True)
    finally:
        node.stop(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
