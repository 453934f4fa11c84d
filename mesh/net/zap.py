"""The ZAP handler loop (RFC 27) shared by the node's ROUTER and the guest door.

libzmq asks an inproc REP socket bound at ``ENDPOINT`` about every handshake on
a socket with a ZAP domain, and waits for the answer: each caller supplies only
``judge`` (the request's frames to the reply's frames). A judge that raises is
logged and answered 500, never left unanswered, since a handshake without a
reply hangs.

This module must never open a socket itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import zmq.asyncio

ENDPOINT = "inproc://zeromq.zap.01"  # fixed by the ZAP specification (RFC 27)
VERSION = b"1.0"

Judge = Callable[[list[bytes]], list[bytes]]


def reply(request_id: bytes, status: bytes, text: bytes, user_id: bytes = b"") -> list[bytes]:
    return [VERSION, request_id, status, text, user_id, b""]


def request_id_of(request: list[bytes]) -> bytes:
    return request[1] if len(request) > 1 else b""


async def serve(sock: zmq.asyncio.Socket, judge: Judge, logger: logging.Logger) -> None:
    """Answer ZAP requests on ``sock`` (bound at ``ENDPOINT``) until cancelled."""
    while True:
        request = await sock.recv_multipart()
        try:
            answer = judge(request)
        except Exception:
            logger.exception("ZAP handler failed; refusing the connection")
            answer = reply(request_id_of(request), b"500", b"internal error")
        await sock.send_multipart(answer)
