"""mesh.raft stays pure: no I/O, clock, threads or randomness, and nothing else of the project.

(The project-wide architecture test checks this too; this one keeps the rule next to
the code it protects.) ``sim.py`` is the seeded test harness and is exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mesh.raft

FORBIDDEN = {"socket", "asyncio", "threading", "time", "random", "sqlite3", "os", "subprocess"}
RAFT_DIR = Path(mesh.raft.__file__).parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_modules_import_nothing_impure() -> None:
    modules = sorted(p for p in RAFT_DIR.glob("*.py") if p.name != "sim.py")
    assert len(modules) >= 8
    for path in modules:
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top not in FORBIDDEN, f"{path.name} imports {name}"
            if top == "mesh":
                assert name == "mesh.raft" or name.startswith("mesh.raft."), f"{path.name}: {name}"
