"""The client API: submit a command, read the ledger, watch for changes.

Two implementations of one small surface:

- ``ControlClient`` talks to a running node over its control socket (``ctl``,
  scripts, tests, and any process that does not host the node itself);
- ``EmbeddedNode`` runs a node on a background asyncio thread inside the
  calling process (the Kivy apps) and hands out a ``LocalClient``.

Every method is thread-safe and blocks at most for its timeout; nothing here
may be called from inside the node's own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from mesh.net.control import ControlError, request
from mesh.node import config as cfg
from mesh.node import constants
from mesh.node.control_ops import handle
from mesh.node.node import Node

Reply = dict[str, Any]


class Client(Protocol):
    def call(self, op: str, **args: Any) -> Reply: ...

    def submit(self, command: dict[str, Any], *, timeout: float | None = None) -> Reply: ...


class ClientError(Exception):
    """The node could not be reached (not a refusal of a command: those are replies)."""


class _Ops:
    """The named operations, shared by both clients (each supplies ``call``)."""

    def call(self, op: str, **args: Any) -> Reply:
        raise NotImplementedError

    def submit(self, command: dict[str, Any], *, timeout: float | None = None) -> Reply:
        args: dict[str, Any] = {"command": command}
        if timeout is not None:
            args["timeout"] = timeout
        return self.call("submit", **args)

    def status(self, *, with_hash: bool = True) -> Reply:
        """The node's status; ``with_hash=False`` (what a screen wants) skips the
        ledger's state hash, which costs the node a full serialization per change."""
        return self.call("status", hash=with_hash)

    def checks(self, **filters: Any) -> Reply:
        return self.call("checks", **filters)

    def tickets(self, **filters: Any) -> Reply:
        return self.call("tickets", **filters)

    def members(self) -> Reply:
        return self.call("members")

    def state(self) -> Reply:
        return self.call("state")


class ControlClient(_Ops):
    def __init__(self, data_dir: Path, *, timeout: float = constants.CONTROL_TIMEOUT_S) -> None:
        self.path = cfg.control_socket_path(data_dir)
        self.timeout = timeout

    def call(self, op: str, **args: Any) -> Reply:
        wait = self.timeout
        if op == "submit":
            wait = max(wait, float(args.get("timeout") or constants.SUBMIT_TIMEOUT_S) + 2)
        try:
            return request(self.path, {"op": op, **args}, wait)
        except ControlError as exc:
            raise ClientError(str(exc)) from exc


class LocalClient(_Ops):
    """Calls into a node running on ``loop`` in another thread of this process."""

    def __init__(self, node: Node, loop: asyncio.AbstractEventLoop) -> None:
        self._node = node
        self._loop = loop

    def call(self, op: str, **args: Any) -> Reply:
        if not self._loop.is_running():
            raise ClientError("the node is not running")
        fut = asyncio.run_coroutine_threadsafe(handle(self._node, {"op": op, **args}), self._loop)
        limit = float(args.get("timeout") or constants.SUBMIT_TIMEOUT_S) + 5
        return fut.result(timeout=limit)

    def watch(self, callback: Callable[[int], None]) -> Callable[[], None]:
        """Call ``callback(applied_index)`` (on the node's thread) after every change.

        The callback must be quick and thread-safe (a Kivy app passes a
        ``Clock.create_trigger``). Returns a function that stops the watch.
        """
        self._loop.call_soon_threadsafe(self._node.add_listener, callback)

        def stop() -> None:
            self._loop.call_soon_threadsafe(self._node.remove_listener, callback)

        return stop


class EmbeddedNode:
    """A node on a background thread of this process, for the apps."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="tablemesh-node", daemon=True)
        self._started: Future[Node] = Future()
        self._node: Node | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            # One coroutine for start and serve, so that the loop is already
            # running when start() hands the client out: between two
            # run_until_complete calls it is not, and a first call would be
            # refused as "the node is not running".
            node = Node(self.data_dir)
            await node.start()
            self._node = node
            self._started.set_result(node)
            await node.wait_stopped()

        try:
            self._loop.run_until_complete(serve())
        except BaseException as exc:
            if not self._started.done():
                self._started.set_exception(exc)
            else:
                raise
        finally:
            self._loop.close()

    def start(self, timeout: float = 30.0) -> LocalClient:
        self._thread.start()
        node = self._started.result(timeout=timeout)
        return LocalClient(node, self._loop)

    def stop(self, timeout: float = 10.0) -> None:
        node = self._node
        if node is not None and self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(node.stop(transfer=True), self._loop)
            fut.result(timeout=timeout)
        self._thread.join(timeout)
