"""Addresses for a site's nodes: free loopback ports when a whole site runs on one machine.

Binding port 0 and closing leaves a small race (another process may take the
port before the node binds it); a node that then fails to bind says so clearly.
"""

from __future__ import annotations

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
