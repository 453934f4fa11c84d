"""The layers of DESIGN.md, enforced: a forbidden import anywhere fails the build.

Rules (package -> what it must never import):
- mesh/raft, mesh/ledger: anything of the project outside themselves, and any
  I/O, clock or randomness (sockets, asyncio, threads, time, random, sqlite, os...).
  Exceptions, each for a reason: mesh/raft/sim.py is the seeded test harness
  beside the core (random, argparse, sys); mesh/ledger/models.py declares the
  SQLAlchemy tables the node persists through.
- Sockets (socket, zmq, zeroconf): mesh/net only. HTTP clients: mesh/sync only.
- Apps (terminal, kitchen): only mesh.client of mesh.
- mesh (but mesh/cli.py, the composition root): never the apps nor cloud.
- Arrows point down: nothing below mesh/client imports it; mesh/net imports
  neither mesh/node nor mesh/sync.
- cloud: nothing of mesh.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

IO_MODULES = {
    "socket", "asyncio", "threading", "multiprocessing", "concurrent", "time", "random",
    "secrets", "sqlite3", "os", "subprocess", "select", "selectors", "signal", "shutil",
    "pathlib", "tempfile", "urllib", "http", "ssl", "zmq", "zeroconf", "httpx", "sqlalchemy",
    "uuid", "logging", "structlog",
}  # fmt: skip
CLOCK_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}
SOCKET_MODULES = {"socket", "zmq", "zeroconf"}
HTTP_MODULES = {"httpx", "requests", "urllib3", "aiohttp"}
APP_ALLOWED_MESH = {"mesh.client"}
APPS = {"terminal", "kitchen"}

PURE_EXCEPTIONS: dict[str, set[str]] = {
    "mesh/raft/sim.py": {"random", "time"},
    "mesh/ledger/models.py": {"sqlalchemy"},
}


def _imports(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
        ):
            yield "<dynamic __import__>", node.lineno


def _clock_calls(tree: ast.AST) -> Iterator[tuple[str, int]]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CLOCK_CALLS
        ):
            yield node.func.attr, node.lineno
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"open", "input", "print"}
        ):
            yield node.func.id, node.lineno


def violations(rel: str, source: str) -> list[str]:
    """Every rule ``source`` (the file at repository path ``rel``) breaks."""
    tree = ast.parse(source, filename=rel)
    found: list[str] = []
    parts = rel.split("/")
    top = parts[0]
    pkg = "/".join(parts[:2])
    for name, line in _imports(tree):
        root = name.split(".")[0]
        where = f"{rel}:{line} imports {name}"
        if pkg in {"mesh/raft", "mesh/ledger"}:
            own = pkg.replace("/", ".")
            allowed = PURE_EXCEPTIONS.get(rel, set())
            if root in {"mesh", "terminal", "kitchen", "cloud"} and not (
                name == own or name.startswith(own + ".")
            ):
                found.append(f"{where}: the pure core imports another part of the project")
            if root in IO_MODULES and root not in allowed:
                found.append(f"{where}: the pure core must do no I/O, clock or randomness")
            if name.startswith("<dynamic"):
                found.append(f"{where}: dynamic imports hide dependencies")
        if root in SOCKET_MODULES and pkg != "mesh/net" and top in {"mesh", "terminal", "kitchen"}:
            found.append(f"{where}: only mesh/net opens sockets")
        if root in HTTP_MODULES and top == "mesh" and pkg != "mesh/sync":
            found.append(f"{where}: only mesh/sync talks HTTP")
        if (
            top in APPS
            and root == "mesh"
            and not any(name == a or name.startswith(a + ".") for a in APP_ALLOWED_MESH)
        ):
            found.append(f"{where}: apps talk only to mesh.client")
        if top == "mesh" and rel != "mesh/cli.py" and root in {"terminal", "kitchen", "cloud"}:
            found.append(f"{where}: mesh must not reach up into the apps or the cloud")
        lower = {"mesh/node", "mesh/net", "mesh/sync", "mesh/raft", "mesh/ledger"}
        if pkg in lower and (name == "mesh.client" or name.startswith("mesh.client.")):
            found.append(f"{where}: arrows point down; mesh/client sits above {pkg}")
        if pkg == "mesh/net" and name.split(".")[:2] in (["mesh", "node"], ["mesh", "sync"]):
            found.append(f"{where}: mesh/net sits below the node and the sync agent")
        if top == "cloud" and root == "mesh":
            found.append(f"{where}: cloud shares only the HTTP contract with mesh")
    if pkg in {"mesh/raft", "mesh/ledger"} and rel not in PURE_EXCEPTIONS:
        for call, line in _clock_calls(tree):
            found.append(
                f"{rel}:{line} calls {call}(): the pure core does no I/O and reads no clock"
            )
    return found


def _project_files() -> list[Path]:
    files: list[Path] = []
    for top in ("mesh", "terminal", "kitchen", "cloud"):
        files.extend(sorted((ROOT / top).rglob("*.py")))
    return files


def test_every_package_has_a_docstring_saying_what_it_is_for() -> None:
    for init in (ROOT / top / "__init__.py" for top in ("mesh", "terminal", "kitchen", "cloud")):
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"
    for sub in ("raft", "net", "ledger", "sync", "node", "client"):
        init = ROOT / "mesh" / sub / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "never" in doc, f"{init} must say what it must never import"


def test_the_layers_hold() -> None:
    found: list[str] = []
    for path in _project_files():
        rel = path.relative_to(ROOT).as_posix()
        found.extend(violations(rel, path.read_text()))
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("mesh/raft/core.py", "import socket\n"),
        ("mesh/raft/core.py", "from mesh.ledger import apply\n"),
        ("mesh/raft/core.py", "import random\n"),
        ("mesh/ledger/apply.py", "import time\n"),
        ("mesh/ledger/apply.py", "from datetime import datetime\nx = datetime.now()\n"),
        ("mesh/ledger/apply.py", "import sqlite3\n"),
        ("mesh/ledger/apply.py", "data = open('f').read()\n"),
        ("mesh/ledger/state.py", "import sqlalchemy\n"),
        ("mesh/node/driver.py", "import zmq\n"),
        ("mesh/node/driver.py", "import httpx\n"),
        ("terminal/app.py", "from mesh.raft import core\n"),
        ("terminal/app.py", "import mesh.node\n"),
        ("kitchen/app.py", "from mesh.net.transport import Transport\n"),
        ("mesh/client/api.py", "from terminal import app\n"),
        ("cloud/app.py", "from mesh.ledger import apply\n"),
        ("mesh/node/node.py", "from mesh.client.api import Client\n"),
        ("mesh/net/transport.py", "from mesh.node import constants\n"),
    ],
)
def test_the_checker_catches_each_forbidden_import(rel: str, source: str) -> None:
    assert violations(rel, source)


@pytest.mark.parametrize(
    ("rel", "source"),
    [
        ("mesh/raft/core.py", "from mesh.raft.types import Entry\nimport enum\n"),
        ("mesh/raft/sim.py", "import random\n"),
        ("mesh/ledger/models.py", "from sqlalchemy.orm import Mapped\n"),
        ("mesh/net/transport.py", "import zmq\n"),
        ("mesh/sync/agent.py", "import httpx\n"),
        ("terminal/app.py", "from mesh.client import Client\n"),
        ("mesh/cli.py", "from cloud.main import run\n"),
    ],
)
def test_the_checker_allows_what_the_design_allows(rel: str, source: str) -> None:
    assert violations(rel, source) == []
