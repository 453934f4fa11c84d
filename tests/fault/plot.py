"""The timeline of a run as a PNG: faults as spans, operations as points coloured by result."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: never a window, never a display

import matplotlib.pyplot as plt

from tests.fault.history import Op

COLOURS = {"ok": "tab:green", "fail": "tab:orange", "unknown": "tab:red"}
FAULT_COLOURS = {
    "kill": "tab:red",
    "pause": "tab:purple",
    "partition": "tab:blue",
    "netem": "tab:olive",
    "clock": "tab:cyan",
    "disk": "tab:brown",
    "dup": "tab:gray",
    "cloud": "tab:pink",
}


def timeline(ops: Sequence[Op], faults: Sequence[dict[str, Any]], path: Path, title: str) -> None:
    clients = sorted({op.client for op in ops})
    rows = {c: i for i, c in enumerate(clients)}
    fig, ax = plt.subplots(figsize=(14, 2.5 + 0.45 * max(1, len(clients))))
    try:
        top = len(clients)
        for f in faults:
            end = f.get("end") or f["start"]
            colour = FAULT_COLOURS.get(f["kind"], "tab:gray")
            ax.axvspan(f["start"], end, color=colour, alpha=0.15, lw=0)
            who = "+".join(f.get("targets") or []) or "-"
            label = f"{f['kind']}({who})" + (" skipped" if f.get("skipped") else "")
            ax.text(f["start"], top - 0.3, label, fontsize=7, rotation=90, va="top")
        for result, colour in COLOURS.items():
            xs = [op.invoke for op in ops if op.result == result]
            ys = [rows[op.client] for op in ops if op.result == result]
            ax.scatter(xs, ys, s=9, c=colour, label=f"{result} ({len(xs)})", alpha=0.8)
        ax.set_yticks(range(len(clients)), clients)
        ax.set_ylim(-0.7, top + 0.2)
        ax.set_xlabel("seconds since the workload started (op invocation)")
        ax.set_title(title, fontsize=8)
        ax.legend(loc="lower right", fontsize=7)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
    finally:
        plt.close(fig)
