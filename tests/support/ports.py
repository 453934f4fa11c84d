"""Free TCP ports on loopback, for tests that start real servers.

A port is found by binding to port 0 on 127.0.0.1 and closing; the tiny race
with another process taking it first is accepted (tests retry a start that
fails with EADDRINUSE rather than us holding the socket open).
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def free_ports(n: int, host: str = LOOPBACK) -> list[int]:
    """``n`` distinct free ports (held open together so they cannot repeat)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
