"""The KDS draws at real-time priority where allowed, and nothing else of it does.

Real KDS processes on Xvfb, their threads' scheduling read from the outside
(``sched_getscheduler`` of each thread id): the UI thread (the process's first
thread) and Mesa's rasterizer threads run ``SCHED_RR``; the node's threads, the
feed and everything started after them stay normal. ``"draw_priority":
"normal"`` raises nothing, and a KDS not allowed to (no ``CAP_SYS_NICE``, no
``RLIMIT_RTPRIO``) says so in its log and runs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kitchen.draw_priority import PRIORITY
from tests.kitchen import scenario
from tests.kitchen.harness import Kds
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = [pytest.mark.ui, pytest.mark.timeout(240)]

REALTIME = (os.SCHED_RR, os.SCHED_FIFO)


def threads(pid: int) -> dict[int, tuple[str, int]]:
    """Thread id -> (name, scheduling policy without its flags) of a live process."""
    got = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        tid = int(task.name)
        name = (task / "comm").read_text().strip()
        got[tid] = (name, os.sched_getscheduler(tid) & ~os.SCHED_RESET_ON_FORK)
    return got


def may_raise() -> bool:
    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= PRIORITY


def test_only_the_drawing_threads_run_at_real_time_priority(
    tmp_path: Path, reaper: ProcessReaper, kds_factory: Callable[..., Kds]
) -> None:
    cluster = Cluster(
        tmp_path / "site", reaper, devices=scenario.devices({"k1": "grill", "k2": "grill"})
    )
    (cluster.data("k2") / "kitchen.json").write_text(json.dumps({"draw_priority": "normal"}))
    raised = kds_factory(cluster.data("k1"), None).ready()
    plain = kds_factory(cluster.data("k2"), None).ready()

    seen = threads(raised.proc.pid)
    ui_name, ui_policy = seen.pop(raised.proc.pid)
    rasterizers = {tid: p for tid, (name, p) in seen.items() if name.startswith("llvmpipe")}
    others = {tid: (name, p) for tid, (name, p) in seen.items() if tid not in rasterizers}
    assert len(others) >= 3, others  # the node's threads, the feed, the driver's reader
    assert not [t for t in others.values() if t[1] in REALTIME], others
    if may_raise():
        assert ui_policy == os.SCHED_RR, (ui_name, ui_policy)
        assert os.sched_getparam(raised.proc.pid).sched_priority == PRIORITY
        assert rasterizers and set(rasterizers.values()) == {os.SCHED_RR}, rasterizers
        assert "real-time priority" in raised.tail(400)
    else:
        assert ui_policy not in REALTIME
        assert "normal priority: real-time scheduling not allowed" in raised.tail(400)
    raised.state()  # still drawing and answering

    assert not [t for t in threads(plain.proc.pid).values() if t[1] in REALTIME]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root")
def test_a_kds_not_allowed_to_raise_says_so_and_draws(
    tmp_path: Path, reaper: ProcessReaper, kds_factory: Callable[..., Kds]
) -> None:
    cluster = Cluster(tmp_path / "site", reaper, devices=scenario.devices({"k1": "grill"}))
    # Root without CAP_SYS_NICE, with an RLIMIT_RTPRIO of 0: as an unprivileged user.
    wrap = ["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice", "--"]
    kds = kds_factory(cluster.data("k1"), None, wrap=wrap).ready()
    assert not [t for t in threads(kds.proc.pid).values() if t[1] in REALTIME]
    assert "normal priority: real-time scheduling not allowed" in kds.tail(400)
    kds.state()  # still drawing and answering
