"""The KDS's drawing threads at a real-time priority, where the system allows it.

A KDS device shares its cores with its own node and feed threads and with
whatever else the device runs; a frame whose thread is ready but waits for a core
misses 60 Hz however little work it is (measured: the slowest bumps waited for a
core longer than they worked; docs/kitchen.md). With the lowest real-time
priority (``SCHED_RR`` 1) the UI thread and the software renderer's rasterizer
threads run the moment they are ready. Nothing else is raised: the node, the
feed and the command pool stay at normal priority, and threads the UI thread
starts later do not inherit it (``SCHED_RESET_ON_FORK``).

A drawing thread gone wrong cannot take a device over: Linux keeps a share of
each second for normal threads (``kernel.sched_rt_runtime_us``, 5 % by
default), and a follower that misses heartbeats cannot disrupt the site (Raft's
pre-vote). Raising needs root, ``CAP_SYS_NICE`` or an ``RLIMIT_RTPRIO`` of 1
(systemd's ``LimitRTPRIO=1``); without it the KDS says so once and draws at
normal priority.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PRIORITY = 1  # the lowest real-time priority: above every normal thread, below the kernel's
# Mesa's software rasterizers name their threads so ("llvmpipe-0", ...); the UI thread
# waits for them at each swap.
RASTERIZER_PREFIXES = ("llvmpipe", "softpipe", "lp_")


def _rasterizer_threads() -> list[int]:
    tids = []
    for task in Path("/proc/self/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue  # the thread ended meanwhile
        if name.startswith(RASTERIZER_PREFIXES):
            tids.append(int(task.name))
    return tids


def raise_draw_priority() -> str:
    """Run the calling (UI) thread and the renderer's threads at real-time priority.

    Call it on the UI thread once the window exists (its renderer's threads too).
    Returns what was done, for the log and the tests.
    """
    if not hasattr(os, "SCHED_RR"):
        return "normal priority: real-time scheduling is not offered here"
    param = os.sched_param(PRIORITY)
    try:
        os.sched_setscheduler(0, os.SCHED_RR | os.SCHED_RESET_ON_FORK, param)
    except OSError as exc:  # EPERM: not allowed; anything else: not offered
        why = f"normal priority: real-time scheduling not allowed ({exc.strerror})"
        log.info("kitchen: drawing at %s; see deploy/README.md (LimitRTPRIO)", why)
        return why
    raised = 0
    for tid in _rasterizer_threads():
        try:
            os.sched_setscheduler(tid, os.SCHED_RR | os.SCHED_RESET_ON_FORK, param)
            raised += 1
        except OSError:
            continue  # ended meanwhile; the UI thread's own priority is what matters most
    what = f"real-time priority {PRIORITY} (SCHED_RR): the UI thread, {raised} rasterizer threads"
    log.info("kitchen: drawing at %s", what)
    return what
