"""The control socket's server stops cleanly with clients still connected, and a
client whose node goes away mid-request says so plainly.

A script may hold a connection open (a long poll, a kept connection) while its
device is stopped; the stop must end those connections at once, let each client
see the end, leave no socket file, and report nothing as an error.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

from mesh.net.control import ControlError, ControlServer, request

WAIT_S = 5.0  # s: the longest any step here may take


def _connect(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT_S)
    sock.connect(str(path))
    return sock


def _ended(sock: socket.socket) -> bool:
    """True when the server closed this connection (end of stream, or a reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_stopping_with_idle_and_busy_clients_ends_both_and_reports_no_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "control.sock"
    errors: list[dict[str, Any]] = []

    async def handler(request: dict[str, Any]) -> dict[str, Any]:
        if request["op"] == "slow":  # a long poll still waiting when the node stops
            await asyncio.sleep(60)
        return {"ok": True}

    async def main() -> tuple[bool, bool]:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
        server = ControlServer(path, handler)
        await server.start()
        idle, busy = _connect(path), _connect(path)
        try:
            busy.sendall(json.dumps({"op": "fast"}).encode() + b"\n")
            reply = await asyncio.to_thread(busy.recv, 1024)
            assert json.loads(reply) == {"ok": True}
            busy.sendall(json.dumps({"op": "slow"}).encode() + b"\n")
            await asyncio.sleep(0.2)  # the slow request is in its handler now
            await asyncio.wait_for(server.close(), WAIT_S)
            await asyncio.sleep(0.1)  # any error is reported by a callback after close
            return await asyncio.to_thread(_ended, idle), await asyncio.to_thread(_ended, busy)
        finally:
            idle.close()
            busy.close()

    idle_ended, busy_ended = asyncio.run(main())
    assert idle_ended and busy_ended
    assert not path.exists()
    assert errors == [], [str(e.get("message")) for e in errors]


@pytest.mark.parametrize("sent", [b"", b'{"ok": tr'])
def test_a_node_gone_before_its_whole_answer_is_a_closed_connection(
    tmp_path: Path, sent: bytes
) -> None:
    """Not "the node answered something that is not JSON": it answered nothing whole."""
    path = tmp_path / "control.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(WAIT_S)

    def die_mid_request() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(sent)
        conn.close()  # as a node killed with -9 while the client waits

    node = threading.Thread(target=die_mid_request, daemon=True)
    node.start()
    try:
        with pytest.raises(ControlError, match="closed the connection without answering"):
            request(path, {"op": "submit"}, WAIT_S)
    finally:
        node.join(WAIT_S)
        server.close()
