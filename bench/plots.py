"""Draw the benchmark plots (PNG, matplotlib Agg) from the JSON in bench/results/.

    python bench/plots.py        # redraw from the last run's JSON, no benchmark rerun

Reads ``peers.json`` (replication side by side) and ``cluster.json`` (the node
cluster: dinner rush, failover) when they exist and writes ``bench-*.png`` beside
them. A plot whose input is missing is skipped. Only draws: never measures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {
    "tablemesh": "tab:blue",
    "etcd": "tab:green",
    "pysyncobj-journal": "tab:orange",
    "pysyncobj-memory": "tab:red",
    "sqlite-fsync": "tab:gray",
}
NOT_DURABLE = {"pysyncobj-journal", "pysyncobj-memory"}


def _label(system: str) -> str:
    return f"{system} (NOT durable)" if system in NOT_DURABLE else system


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _cdf(ax: Any, samples: list[float], **kw: Any) -> None:
    xs = sorted(samples)
    n = len(xs)
    if n:
        ax.step(xs, [(i + 1) / n for i in range(n)], where="post", **kw)


def _subtitle(data: dict[str, Any]) -> str:
    floor = data.get("floor", {})
    fsync = floor.get("fsync_p50_ms", floor.get("fsync", {}).get("p50_ms"))
    return f"{data['machine']['cores']} cores (shared, noisy), loopback; fsync p50 {fsync} ms"


def peers_throughput(peers: dict[str, Any], out: Path, nodes: int) -> Path | None:
    runs = [r for r in peers["runs"] if r["nodes"] in (nodes, 1)]
    if not runs:
        return None
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for system in dict.fromkeys(r["system"] for r in runs):
        mine = sorted((r for r in runs if r["system"] == system), key=lambda r: r["clients"])
        xs = [r["clients"] for r in mine]
        style = {"color": COLOURS.get(system), "marker": "o", "label": _label(system)}
        if system in NOT_DURABLE:
            style["linestyle"] = "--"
        left.plot(xs, [r["commits_per_s"] for r in mine], **style)
        right.plot(xs, [r["p99_ms"] for r in mine], **style)
    left.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="commits/s",
             title="throughput")  # fmt: skip
    right.set(xscale="log", yscale="log", xlabel="concurrent clients", ylabel="p99 ms",
              title="commit latency p99")  # fmt: skip
    for ax in (left, right):
        ax.set_xticks([1, 16, 64], ["1", "16", "64"])
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=8)
    fig.suptitle(f"{nodes}-node replication, 100-byte commands - {_subtitle(peers)}", fontsize=10)
    fig.tight_layout()
    path = out / f"bench-peers-throughput-{nodes}n.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def peers_cdf(peers: dict[str, Any], out: Path, nodes: int) -> Path | None:
    runs = [r for r in peers["runs"] if r["nodes"] in (nodes, 1) and r.get("samples_ms")]
    if not runs:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)
    for ax, clients in zip(axes, (1, 16, 64), strict=True):
        for r in runs:
            if r["clients"] != clients:
                continue
            style = {"color": COLOURS.get(r["system"]), "label": _label(r["system"])}
            if r["system"] in NOT_DURABLE:
                style["linestyle"] = "--"
            _cdf(ax, r["samples_ms"], **style)
        ax.set(xscale="log", xlabel="commit latency, ms", title=f"{clients} client(s)")
        ax.axvline(peers["floor"]["fsync_plus_rtt_ms"], color="black", lw=0.8, ls=":")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("fraction of commits")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(
        f"{nodes}-node commit latency CDF (dotted: fsync + loopback RTT floor) - "
        f"{_subtitle(peers)}",
        fontsize=10,
    )
    fig.tight_layout()
    path = out / f"bench-peers-latency-cdf-{nodes}n.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cluster_failover(cluster: dict[str, Any], out: Path) -> Path | None:
    fo = cluster.get("5n_failover", {})
    trials = fo.get("trials_ms")
    if not trials:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.bar(range(1, len(trials) + 1), trials, color="tab:blue")
    ax.axhline(1000, color="tab:red", ls="--", lw=1, label="target: median under 1 s")
    ax.axhline(fo["median_ms"], color="black", ls=":", lw=1, label=f"median {fo['median_ms']} ms")
    ax.set(xlabel="trial (kill -9 of the leader)", ylabel="ms to the next acknowledged write",
           title=f"failover, 5 nodes, fsync on - {_subtitle(cluster)}")  # fmt: skip
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "bench-failover.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def cluster_rush_cdf(cluster: dict[str, Any], out: Path) -> Path | None:
    series = [
        (key, label)
        for key, label in (
            ("5n_dinner_rush", "5 nodes, dinner rush (20 terminals x 1/s, table mix)"),
            ("5n_dinner_rush_10x", "5 nodes, 10x dinner rush (200 terminals x 1/s)"),
            ("3n_64clients", "3 nodes, 64 clients flat out"),
            ("5n_64clients", "5 nodes, 64 clients flat out"),
        )
        if cluster.get(key, {}).get("samples_ms")
    ]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in series:
        _cdf(ax, cluster[key]["samples_ms"], label=label)
    ax.axvline(10, color="tab:red", ls="--", lw=1, label="dinner-rush target: p99 < 10 ms")
    ax.set(xscale="log", xlabel="commit latency, ms", ylabel="fraction of commits",
           title=f"tablemesh cluster - {_subtitle(cluster)}")  # fmt: skip
    ax.title.set_fontsize(9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "bench-cluster-latency-cdf.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw_all(results: Path) -> list[Path]:
    drawn: list[Path | None] = []
    peers = _load(results / "peers.json")
    if peers:
        for nodes in sorted({r["nodes"] for r in peers["runs"]} - {1}):
            drawn += [peers_throughput(peers, results, nodes), peers_cdf(peers, results, nodes)]
    cluster = _load(results / "cluster.json")
    if cluster:
        drawn += [cluster_failover(cluster, results), cluster_rush_cdf(cluster, results)]
    return [p for p in drawn if p is not None]


if __name__ == "__main__":
    for p in draw_all(Path(__file__).resolve().parent / "results"):
        print(p)
    sys.exit(0)
