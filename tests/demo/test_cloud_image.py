"""The cloud's container recipe, followed step by step without a container engine.

No Docker engine runs where this suite runs, so the image itself is not built
here. What the image would hold is checked instead, from the Dockerfile's own
lines: a bare virtual environment gets exactly its ``pip install`` (with the
repository's constraints), a folder gets only ``cloud/`` (the ``COPY``), and the
``ENTRYPOINT`` + ``CMD`` start the service from there (on loopback and a free
port instead of 0.0.0.0:8750). Its ``HEALTHCHECK`` command must then pass. If
``cloud/`` started to import something the image does not install, or ``mesh/``,
this fails.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.procs import ProcessReaper

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "cloud" / "Dockerfile"

pytestmark = pytest.mark.timeout(600)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined."""
    lines: list[str] = []
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + raw.strip()
        else:
            lines.append(raw.strip())
    out = []
    for line in lines:
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def test_the_image_recipe_installs_what_cloud_needs_and_its_healthcheck_passes(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    steps = _instructions()
    base = next(args for word, args in steps if word == "FROM")
    assert base.startswith("python:"), base
    wanted = tuple(int(x) for x in base.removeprefix("python:").split("-")[0].split("."))
    if sys.version_info[: len(wanted)] != wanted:
        pytest.skip(f"the image's Python is {base}; this is {sys.version.split()[0]}")
    pip_lines = [args for word, args in steps if word == "RUN" and args.startswith("pip install")]
    assert len(pip_lines) == 1, pip_lines
    copies = [args.split() for word, args in steps if word == "COPY"]
    assert ["constraints.txt", "/app/constraints.txt"] in copies
    assert ["cloud", "/app/cloud"] in copies
    assert {tuple(c) for c in copies} == {
        ("constraints.txt", "/app/constraints.txt"),
        ("cloud", "/app/cloud"),
    }, "the image copies something this test does not reproduce"
    entrypoint = json.loads(next(args for word, args in steps if word == "ENTRYPOINT"))
    cmd = json.loads(next(args for word, args in steps if word == "CMD"))
    check = next(args for word, args in steps if word == "HEALTHCHECK")
    check_cmd = json.loads(check[check.index("CMD") + 3 :].strip())

    # The image's /app: its constraints and cloud/, nothing else of the repository.
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(ROOT / "constraints.txt", app / "constraints.txt")
    shutil.copytree(ROOT / "cloud", app / "cloud", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = shlex.split(pip_lines[0])
    subprocess.run(
        [str(python), "-m", *install, "--quiet", "--disable-pip-version-check"],
        cwd=app,
        check=True,
        timeout=400,
    )

    port = free_port()
    data = tmp_path / "data"
    data.mkdir()
    argv = [arg.replace("0.0.0.0", "127.0.0.1") for arg in entrypoint]
    argv = [str(port) if arg == "8750" else arg for arg in argv]
    argv += [str(data) if arg == "/data" else arg for arg in cmd]
    assert argv[0] == "python"
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    proc = reaper.spawn([str(python), *argv[1:]], cwd=app, env=env, log=tmp_path / "cloud.log")
    probe = [str(python), *check_cmd[1:]]
    probe = [arg.replace("127.0.0.1:8750", f"127.0.0.1:{port}") for arg in probe]
    deadline = time.monotonic() + 60
    healthy = False
    while time.monotonic() < deadline and proc.poll() is None:
        done = subprocess.run(probe, cwd=app, env=env, capture_output=True, timeout=10)
        if done.returncode == 0:
            healthy = True
            break
        time.sleep(0.5)
    log = (tmp_path / "cloud.log").read_text(errors="replace")
    assert healthy, f"the healthcheck never passed:\n{log[-3000:]}"
    # Only what the image installs: no project package leaked in from this checkout.
    leaked = subprocess.run(
        [str(python), "-c", "import mesh"], cwd=app, env=env, capture_output=True, timeout=30
    )
    assert leaked.returncode != 0
