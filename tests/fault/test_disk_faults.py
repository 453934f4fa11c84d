"""A disk that refuses one snapshot write, reduced from the nemesis' ``disk`` fault (seed 507).

In the soak a leader's data partition filled up just as a snapshot was due: the
node went on answering its control socket but never persisted, applied or sent
anything again, even once the disk had room. Here the node's first snapshot
write fails as a full disk makes it fail (``brittle_disk_node``); afterwards the
node must go on accepting and applying commands (a snapshot only saves replay
time: the log it would replace is still whole).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mesh.client.api import ControlClient
from mesh.node import config as cfg
from mesh.node.site_setup import default_devices, init_site
from tests.support.cluster import wait_for
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(120)


def test_a_snapshot_write_that_fails_once_does_not_wedge_the_node(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    init_site(tmp_path, default_devices(1), site="disk")
    data = tmp_path / "n1"
    path = data / cfg.CONFIG_FILE
    raw = json.loads(path.read_text())
    raw["snapshot_every"] = 10
    cfg.write_json_atomically(path, raw)
    reaper.spawn(
        [sys.executable, "-m", "tests.fault.brittle_disk_node", str(data)],
        log=tmp_path / "node.log",
    )
    client = ControlClient(data, timeout=10)
    wait_for("the catalog", lambda: client.state().get("catalog_version") is not None, 30)
    opened = client.submit({"type": "open_check", "by": "s-ana", "table": "1"})
    check = opened["outcome"]["check"]
    codes = []
    for i in range(30):  # the tenth applied entry or so triggers the failing snapshot
        reply = client.submit(
            {"type": "add_items", "id": f"d{i}", "by": "s-ana", "check": check,
             "items": [{"item": "soda", "qty": 1}]},
            timeout=2,
        )  # fmt: skip
        codes.append("ok" if reply["ok"] else reply["error"]["code"])
        if not reply["ok"]:
            break  # wedged: every later command would time out too
    assert codes == ["ok"] * 30, codes
