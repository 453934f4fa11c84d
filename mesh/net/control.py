"""The node's local control socket: newline-delimited JSON over a Unix socket, owner-only.

``tablemesh ctl`` and scripts talk to a running node through it. Each request
is one JSON object on one line, ``{"op": "...", ...}``; each reply is one JSON
object on one line. A malformed or oversized request gets an error reply and
the connection stays usable; the server never dies of bad input.

The socket file is created with mode 0600 (a restaurant LAN is shared with
guests; only the device's own user may drive its node).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1 << 20  # 1 MiB: a command is small; anything larger is an error
SOCKET_MODE = 0o600
CLOSE_WAIT_S = 1.0  # how long close() waits for the connections it ends to close

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlError(Exception):
    """The control socket could not be reached or answered nonsense."""


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


class ControlServer:
    """Serves ``handler`` on a Unix socket at ``path`` (on the running asyncio loop)."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket from a killed process
        # Create the socket with no permissions for others from the very start.
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST_BYTES
            )
        finally:
            os.umask(old)
        os.chmod(self.path, SOCKET_MODE)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (asyncio.LimitOverrunError, ValueError):
                    writer.write(self._encode(_error("too_large", "request over 1 MiB")))
                    await writer.drain()
                    break
                if not line:
                    break
                reply = await self._answer(line)
                writer.write(self._encode(reply))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # close() ends each connection by cancelling its handler. Python 3.11's stream
            # server then logs the cancelled handler as an unhandled error, with a
            # traceback, for every client still connected (a script's long poll, a kept
            # connection) each time the node stops: the handler ends normally instead.
            if not self._closing:
                raise
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            if task is not None:
                self._clients.discard(task)

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error("bad_request", f"not JSON: {exc}")
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            return _error("bad_request", 'a request is a JSON object with a string "op"')
        try:
            return await self._handler(request)
        except Exception as exc:  # the node keeps serving whatever one request does
            log.exception("control request failed", extra={"op": request.get("op")})
            return _error("internal", f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _encode(reply: dict[str, Any]) -> bytes:
        return json.dumps(reply, separators=(",", ":"), sort_keys=True).encode() + b"\n"

    async def close(self) -> None:
        self._closing = True
        server, self._server = self._server, None
        if server is not None:
            server.close()  # no new connections
        # The open ones are ended first: from Python 3.12 on, wait_closed() waits for
        # every connection, and a script's idle one would hold the node's stop for ever.
        clients = list(self._clients)
        for task in clients:
            task.cancel()
        if clients:  # let each close its connection before the loop goes away
            await asyncio.wait(clients, timeout=CLOSE_WAIT_S)
        if server is not None:
            await server.wait_closed()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def serving(path: Path, timeout: float = 1.0) -> bool:
    """Whether a node serves this control socket now (not a stale file left by a crash)."""
    try:
        request(path, {"op": "status", "hash": False}, timeout)
    except ControlError:
        return False
    return True


def request(path: Path, message: dict[str, Any], timeout: float) -> dict[str, Any]:
    """One blocking request/reply over the control socket (for ``ctl`` and scripts)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps(message).encode() + b"\n")
            buf = bytearray()
            while not buf.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                buf.extend(chunk)
                if len(buf) > 64 * MAX_REQUEST_BYTES:
                    raise ControlError("reply too large")
    except FileNotFoundError as exc:
        raise ControlError(f"no node is running here (no control socket at {path})") from exc
    except ConnectionRefusedError as exc:
        raise ControlError(f"the node at {path} is not answering (stale socket)") from exc
    except TimeoutError as exc:
        raise ControlError(f"the node did not answer within {timeout:g} s") from exc
    except OSError as exc:  # reset or broken pipe: the node died mid-request
        raise ControlError(f"the connection to the node at {path} failed: {exc}") from exc
    if not buf.endswith(b"\n"):
        # The node closed the connection before its answer was whole: it stopped or died.
        raise ControlError(f"the node at {path} closed the connection without answering")
    try:
        reply = json.loads(buf)
    except json.JSONDecodeError as exc:
        raise ControlError(f"the node answered something that is not JSON: {exc}") from exc
    if not isinstance(reply, dict):
        raise ControlError("the node's answer is not a JSON object")
    return reply


class ControlConnection:
    """A kept-open connection to the control socket, for callers that make many requests.

    Not thread-safe: one per thread. Reconnects once if the node closed the connection.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = bytearray()

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self.path))
        except FileNotFoundError as exc:
            sock.close()
            raise ControlError(
                f"no node is running here (no control socket at {self.path})"
            ) from exc
        except OSError as exc:
            sock.close()
            raise ControlError(f"the node at {self.path} is not answering: {exc}") from exc
        self._buf.clear()
        return sock

    def request(self, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        data = json.dumps(message).encode() + b"\n"
        for attempt in (1, 2):
            if self._sock is None:
                self._sock = self._connect()
            self._sock.settimeout(timeout or self.timeout)
            try:
                self._sock.sendall(data)
                line = self._readline()
            except (BrokenPipeError, ConnectionResetError, EOFError):
                self.close()
                if attempt == 2:
                    raise ControlError(f"the node at {self.path} closed the connection") from None
                continue
            except TimeoutError as exc:
                self.close()  # a late reply must not be read as the next one's
                raise ControlError(
                    f"the node did not answer within {timeout or self.timeout:g} s"
                ) from exc
            reply = json.loads(line)
            if not isinstance(reply, dict):
                raise ControlError("the node's answer is not a JSON object")
            return reply
        raise AssertionError("unreachable")

    def _readline(self) -> bytes:
        assert self._sock is not None
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            chunk = self._sock.recv(65536)
            if not chunk:
                raise EOFError
            self._buf.extend(chunk)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
