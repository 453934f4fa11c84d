"""``tablemesh demo --headless``: a whole site on loopback, site.json as documented, clean stop."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from mesh.client.api import ControlClient
from tests.support.cluster import wait_for
from tests.support.procs import ProcessReaper, child_pids

pytestmark = pytest.mark.timeout(180)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_headless_demo_writes_site_json_serves_and_stops_everything(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    root = tmp_path / "site"
    demo = reaper.spawn(
        [sys.executable, "-m", "mesh", "demo", "--headless", "--nodes", "3", "--data", str(root)],
        log=tmp_path / "demo.log",
    )
    site_file = root / "site.json"
    wait_for("site.json", site_file.exists, 60)
    site = json.loads(site_file.read_text())
    cloud = site["cloud"]
    assert set(cloud) >= {"url", "pid", "token", "admin_token"}
    reaper.track(cloud["pid"])
    assert cloud["url"].startswith("http://127.0.0.1:")
    assert httpx.get(cloud["url"] + "/v1/health", timeout=5).status_code == 200
    assert [n["name"] for n in site["nodes"]] == ["n1", "n2", "n3"]
    for node in site["nodes"]:
        assert set(node) >= {"name", "data", "pid", "address"}
        reaper.track(node["pid"])
        assert node["address"].startswith("tcp://127.0.0.1:")
    client = ControlClient(Path(site["nodes"][0]["data"]))
    wait_for("a leader", lambda: client.status()["leader"], 30)
    reply = client.submit(
        {"type": "open_check", "by": "s-ana", "table": "3", "guests": 4, "server": "s-ana"}
    )
    assert reply["ok"], reply
    temp_id = reply["outcome"]["check"]
    # The leader's sync agent reaches the demo's cloud and the check gets its real number.
    numbered = wait_for(
        "the check's real number",
        lambda: next(
            (c["number"] for c in client.checks()["checks"] if c["id"] == temp_id and c["number"]),
            None,
        ),
        30,
    )
    assert isinstance(numbered, int)
    pids = [n["pid"] for n in site["nodes"]] + [cloud["pid"]]
    demo.send_signal(signal.SIGTERM)
    assert demo.wait(30) == 0
    for pid in pids:
        wait_for(f"node {pid} to exit", lambda p=pid: not _alive(p), 15)
    assert child_pids(demo.pid) == set()
    # The same directory restarts the same site: the check is still there.
    site_file.unlink()
    demo2 = reaper.spawn(
        [sys.executable, "-m", "mesh", "demo", "--headless", "--data", str(root)],
        log=tmp_path / "demo2.log",
    )
    wait_for("site.json again", site_file.exists, 60)
    site2 = json.loads(site_file.read_text())
    for node in site2["nodes"]:
        reaper.track(node["pid"])
    reaper.track(site2["cloud"]["pid"])
    wait_for("a leader", lambda: client.status()["leader"], 30)
    assert any(c["id"] == temp_id and c["number"] == numbered for c in client.checks()["checks"])
    demo2.send_signal(signal.SIGTERM)
    assert demo2.wait(30) == 0


def _gone(pid: int) -> bool:
    """No such process, not even a ``<defunct>`` zombie waiting for its parent."""
    return not Path(f"/proc/{pid}").exists()


def test_headless_demo_reaps_a_device_a_script_kills_and_says_so_once(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    root = tmp_path / "site"
    log = tmp_path / "demo.log"
    demo = reaper.spawn(
        [sys.executable, "-m", "mesh", "demo", "--headless", "--nodes", "3", "--data", str(root)],
        log=log,
    )
    site_file = root / "site.json"
    wait_for("site.json", site_file.exists, 60)
    site = json.loads(site_file.read_text())
    nodes = {n["name"]: n["pid"] for n in site["nodes"]}
    cloud_pid = site["cloud"]["pid"]
    for pid in [*nodes.values(), cloud_pid]:
        reaper.track(pid)
    # A script kills a device and the cloud: the demo reaps both, restarts neither.
    os.kill(nodes["n2"], signal.SIGKILL)
    os.kill(cloud_pid, signal.SIGKILL)
    wait_for("the killed node to be reaped", lambda: _gone(nodes["n2"]), 15)
    wait_for("the killed cloud to be reaped", lambda: _gone(cloud_pid), 15)
    wait_for("the demo to say so", lambda: "the cloud (pid" in log.read_text(), 15)
    assert demo.poll() is None
    assert child_pids(demo.pid) == {nodes["n1"], nodes["n3"]}
    text = log.read_text()
    assert text.count(f"node n2 (pid {nodes['n2']}) exited with -9; not restarted") == 1, text
    assert text.count(f"the cloud (pid {cloud_pid}) exited with -9; not restarted") == 1, text
    # It still stops every process it started, the survivors included.
    demo.send_signal(signal.SIGTERM)
    assert demo.wait(30) == 0
    for pid in (nodes["n1"], nodes["n3"]):
        wait_for(f"node {pid} to exit", lambda p=pid: not _alive(p), 15)
    assert log.read_text().count("exited with") == 2, "reported once each, even on stop"
