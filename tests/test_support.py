"""The shared fixtures themselves: they must really kill, really clean up, really detect leaks."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from tests.support import leaks
from tests.support.netns import list_namespaces
from tests.support.ports import free_ports
from tests.support.procs import ProcessReaper, child_pids

SPAWN_GRANDCHILD = (
    "import subprocess, sys, time;"
    "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
    "print(p.pid, flush=True); time.sleep(600)"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_reaper_kills_children_and_grandchildren() -> None:
    import subprocess

    reaper = ProcessReaper()
    proc = reaper.spawn([sys.executable, "-c", SPAWN_GRANDCHILD], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    proc.stdout.close()
    assert _alive(proc.pid) and _alive(grandchild)
    reaper.reap()
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is not None
    assert not _alive(grandchild)
    assert proc.pid not in child_pids()


def test_free_ports_are_distinct() -> None:
    ports = free_ports(8)
    assert len(set(ports)) == 8


def test_leak_detector_reports_a_leftover_thread_and_child() -> None:
    import subprocess

    before = leaks.baseline()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, name="leftover", daemon=True)
    t.start()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        left = leaks.leftovers(before, grace=0.2)
        assert "thread 'leftover'" in left
        assert f"child pid {child.pid}" in left
    finally:
        stop.set()
        t.join(5)
        child.kill()
        child.wait(5)
    assert leaks.leftovers(before, grace=2) == []


@pytest.mark.netns
def test_netns_lab_builds_hosts_and_removes_them(netns_lab) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    lab = netns_lab(2)
    names = {h.name for h in lab.hosts} | {lab.bridge_ns}
    assert names <= list_namespaces()
    a, b = lab.hosts
    # The two hosts reach each other over the bridge (a TCP connect inside the namespaces).
    serve = (
        f"import socket; s = socket.socket(); s.bind(('{b.address}', 7000)); s.listen();"
        "c, _ = s.accept(); c.sendall(b'hi'); c.close()"
    )
    server = subprocess.Popen(
        lab.exec_args(b, [sys.executable, "-c", serve]), stdin=subprocess.DEVNULL
    )
    try:
        code = (
            "import socket, time\n"
            "for _ in range(50):\n"
            "    try:\n"
            f"        s = socket.create_connection(('{b.address}', 7000), timeout=1); break\n"
            "    except OSError: time.sleep(0.1)\n"
            "print(s.recv(2).decode())\n"
        )
        out = subprocess.run(
            lab.exec_args(a, [sys.executable, "-c", code]),
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert out.stdout.strip() == "hi"
    finally:
        server.kill()
        server.wait(5)
    lab.close()
    assert not (names & list_namespaces())
