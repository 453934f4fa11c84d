"""Addresses for a site's nodes: free loopback ports when a whole site runs on one machine,
and whether this device can listen where it is about to promise it will.

Binding port 0 and closing leaves a small race (another process may take the
port before the node binds it); a node that then fails to bind says so clearly.
"""

from __future__ import annotations

import errno
import socket


def free_tcp_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct TCP ports free on ``host`` right now."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def bind_problem(host: str, port: int) -> str | None:
    """Why this device could not listen on ``host:port``: ``"in_use"``, or the system's
    words; None if it can (the probe is closed again at once)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            # As ZeroMQ binds: a port left in TIME_WAIT by an earlier run is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "in_use"
        return str(exc.strerror or exc)
    return None
