"""A node's data directory as a new user meets it: a lost key file is refused with
what to do (never silently replaced), a bad ``--bind`` or ``--station`` on ``--enrol``
is named before anything is sent, what the device finds by itself is not called the
site's refusal, and directories the code makes are owner-only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mesh.cli import enrol_failure
from mesh.ledger.check_ids import temp_id_counter
from mesh.net.discovery import PeerSeen
from mesh.node import config as cfg
from mesh.node.join import JoinError, SiteRefused, _pick_site
from mesh.node.site_setup import default_devices, init_site
from tests.support.cluster import Cluster
from tests.support.procs import ProcessReaper

pytestmark = pytest.mark.timeout(120)


def _tablemesh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mesh", *argv],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_node_that_ran_refuses_to_start_without_its_key(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=1)
    cluster.start()  # its key is now the site's name for it, and it has a log
    cluster.kill("n1", signal.SIGTERM)
    data = cluster.data("n1")
    assert (data / cfg.DB_FILE).exists()
    shutil.rmtree(data / cfg.KEYS_DIR)

    done = _tablemesh("node", "--data", str(data))
    # Exit 1, as any other configuration a node cannot start with.
    assert done.returncode == 1, done.stderr
    assert "secret key keys/curve.secret is missing" in done.stderr
    assert "restore the keys directory from a backup" in done.stderr
    assert "tablemesh ctl revoke n1" in done.stderr
    assert not (data / cfg.KEYS_DIR).exists()  # no new key made meanwhile


def test_a_garbled_key_file_names_its_directory_and_what_to_do(tmp_path: Path) -> None:
    init_site(tmp_path / "site", default_devices(1), site="demo")
    data = tmp_path / "site" / "n1"
    (data / cfg.KEYS_DIR / "curve.secret").write_text("not a key\n")

    done = _tablemesh("node", "--data", str(data))
    assert done.returncode == 1, done.stderr
    assert f"{data / cfg.KEYS_DIR}: curve.secret does not hold a Z85 CURVE key" in done.stderr
    assert "restore the keys directory from a backup" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_set_up_device_without_its_key_refuses_rather_than_make_one(tmp_path: Path) -> None:
    # Site set-up wrote node.json and the key; the key is lost before the first start.
    # The other devices know it by that key only: a new one would be cut off for good.
    init_site(tmp_path / "site", default_devices(1), site="demo")
    data = tmp_path / "site" / "n1"
    shutil.rmtree(data / cfg.KEYS_DIR)

    done = _tablemesh("node", "--data", str(data))
    assert done.returncode == 1, done.stderr
    assert "holds the set-up of device 'n1'" in done.stderr
    assert "restore the keys directory from a backup" in done.stderr
    assert not (data / cfg.KEYS_DIR).exists() and not (data / cfg.DB_FILE).exists()


@pytest.mark.parametrize("damage", ["lost", "emptied", "garbled"])
def test_a_lost_or_corrupt_check_counter_resumes_above_the_logs_ids(
    tmp_path: Path, reaper: ProcessReaper, damage: str
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=1)
    cluster.start()
    prefix = cluster.status("n1")["device"]["prefix"]
    before = [cluster.open_check(via="n1", table=str(t)) for t in (1, 2, 3)]
    cluster.kill("n1", signal.SIGTERM)
    counter = cluster.data("n1") / cfg.COUNTER_FILE
    if damage == "lost":
        counter.unlink()
    else:
        counter.write_text("" if damage == "emptied" else "12x\n")

    cluster.start()
    after = cluster.open_check(via="n1", table="4")  # a reused ID would be a conflict
    counters = [temp_id_counter(ref, prefix) for ref in [*before, after]]
    assert None not in counters
    assert counters[-1] > max(c for c in counters[:-1] if c is not None), counters
    said = "lost" if damage == "lost" else "corrupt"
    assert f"check ID counter file was {said}" in cluster.log_tail("n1", 200)
    if damage != "lost":
        assert list(counter.parent.glob(f"{cfg.COUNTER_FILE}.corrupt-*"))  # kept as evidence
    # The floor is in the file from now on: the next start has nothing to reckon.
    log = cluster.data("n1") / "node.log"
    warned = log.read_text().count("check ID counter file was")
    cluster.kill("n1", signal.SIGTERM)
    cluster.start()
    assert log.read_text().count("check ID counter file was") == warned


def test_a_node_whose_port_is_taken_says_so_in_a_line(
    tmp_path: Path, reaper: ProcessReaper
) -> None:
    cluster = Cluster(tmp_path / "s", reaper, nodes=2)
    cluster.start(["n1"], wait=True)
    taken = json.loads((cluster.data("n1") / cfg.CONFIG_FILE).read_text())["bind"]
    raw = json.loads((cluster.data("n2") / cfg.CONFIG_FILE).read_text())
    raw["bind"] = taken  # n1's port, as after a technician's copy-paste
    cfg.write_json_atomically(cluster.data("n2") / cfg.CONFIG_FILE, raw)

    done = _tablemesh("node", "--data", str(cluster.data("n2")))
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"cannot listen on {taken}" in done.stderr and "correct bind in node.json" in done.stderr
    assert "Traceback" not in done.stderr
    assert not cfg.control_socket_path(cluster.data("n2")).exists()


@pytest.mark.parametrize(
    ("bind", "says"),
    [
        ("garbage", "tcp://ADDRESS:PORT"),
        # A name is not an address every device dials alike (and mDNS refuses it).
        ("tcp://localhost:7401", "IP address, not 'localhost'"),
    ],
)
def test_enrol_with_a_bad_bind_names_bind_and_sends_nothing(
    tmp_path: Path, bind: str, says: str
) -> None:
    data = tmp_path / "new"
    done = _tablemesh(
        "node", "--data", str(data), "--enrol", "7KQ2-M9XD", "--name", "bar-2", "--bind", bind
    )
    assert done.returncode == 1
    assert f"bad --bind {bind!r}" in done.stderr and says in done.stderr
    assert "enrolment refused" not in done.stderr and "Traceback" not in done.stderr
    assert not data.exists()  # no key made, nothing written


def test_enrol_into_a_set_up_directory_cannot_enrol_and_no_site_refused_it(
    tmp_path: Path,
) -> None:
    init_site(tmp_path / "site", default_devices(1), site="demo")
    data = tmp_path / "site" / "n1"
    before = (data / cfg.CONFIG_FILE).read_bytes()
    done = _tablemesh(
        "node", "--data", str(data), "--enrol", "7KQ2-M9XD", "--name", "bar-2",
        "--bind", "tcp://127.0.0.1:7401",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "tablemesh node: cannot enrol (exists): " in done.stderr
    assert "already holds an enrolled device" in done.stderr
    assert "enrolment refused" not in done.stderr and "Traceback" not in done.stderr
    assert (data / cfg.CONFIG_FILE).read_bytes() == before


def _seen(site: str, node: str) -> tuple[str, PeerSeen]:
    return site, PeerSeen(
        node_id=node, address="10.0.0.1", port=7400, public_key="k" * 40, role="hub",
        guest_port=7500,
    )  # fmt: skip


def test_what_this_device_found_itself_is_not_a_refusal_by_the_site() -> None:
    # The join's own findings, raised as it raises them (mDNS itself is in test_enrol_network).
    with pytest.raises(JoinError) as several:
        _pick_site([_seen("cafe-1", "n1"), _seen("grill", "n2")], None)
    line = enrol_failure(several.value)
    assert line == (
        "tablemesh node: cannot enrol (several_sites): several sites answer here "
        "(cafe-1, grill): pick one with --site NAME"
    )
    with pytest.raises(JoinError) as none:
        _pick_site([], None)
    assert enrol_failure(none.value).startswith("tablemesh node: cannot enrol (no_site): no site")
    with pytest.raises(JoinError) as absent:
        _pick_site([_seen("cafe-1", "n1")], "bistro")
    assert "cannot enrol (no_site): site 'bistro' is not on this network (seen: cafe-1)" in (
        enrol_failure(absent.value)
    )
    # The site's own "no" stays a refusal, in the site's words.
    wrong = SiteRefused("wrong_code", "this enrolment code is not valid")
    assert enrol_failure(wrong) == (
        "tablemesh node: enrolment refused (wrong_code): this enrolment code is not valid"
    )


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--role", "kds", "--station", "grll"], "a station is one of grill, fry, cold, bar, expo"),
        # The default role is a terminal, which serves no station.
        (["--station", "grill"], "a station is for a kitchen screen (--role kds), not a terminal"),
    ],
)
def test_enrol_with_a_bad_station_names_station_and_writes_nothing(
    tmp_path: Path, free_port: Callable[[], int], extra: list[str], says: str
) -> None:
    data = tmp_path / "new"
    bind = f"tcp://127.0.0.1:{free_port()}"  # a good one: the station is what is wrong
    done = _tablemesh(
        "node", "--data", str(data), "--enrol", "7KQ2-M9XD", "--name", "grill-2", "--bind", bind,
        *extra,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    station = extra[extra.index("--station") + 1]
    assert f"tablemesh node: bad --station {station!r}: {says}" in done.stderr, done.stderr
    assert "enrolment refused" not in done.stderr and "Traceback" not in done.stderr
    assert not data.exists()  # no key made, no code spent, nothing written


def test_the_stations_enrolment_takes_are_those_the_kitchen_screen_serves() -> None:
    # Two lists, since the apps import only mesh.client: a station enrolment took
    # and the screen did not know would fall back to expo without a word.
    from kitchen.settings import STATIONS

    assert cfg.KDS_STATIONS == STATIONS


def test_data_directories_the_code_makes_are_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual umask, which gives mkdir -p 0755
    try:
        init_site(tmp_path / "site", default_devices(2), site="demo")
        mine = tmp_path / "mine"
        mine.mkdir(mode=0o750)  # an operator's own directory: its mode is theirs
        init_site(mine, default_devices(1), site="demo")
    finally:
        os.umask(old_umask)
    for data in (tmp_path / "site" / "n1", tmp_path / "site" / "n2", mine / "n1"):
        assert stat.S_IMODE(data.stat().st_mode) == 0o700, data
        assert stat.S_IMODE((data / cfg.KEYS_DIR).stat().st_mode) == 0o700
        assert stat.S_IMODE((data / cfg.CONFIG_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(mine.stat().st_mode) == 0o750


def test_a_copy_of_a_running_devices_data_says_so_and_leaves_no_socket(
    tmp_path: Path, reaper: ProcessReaper, free_port: Callable[[], int]
) -> None:
    # A spare swapped in with a copy of a running device's data directory (another
    # port): mDNS refuses a second advert of that node; the copy says which and why.
    def advertise(raw: dict[str, Any]) -> None:
        raw["mdns"], raw["mdns_interfaces"] = True, ["127.0.0.1"]

    cluster = Cluster(tmp_path / "s", reaper, nodes=1, tweak=advertise)
    cluster.start()
    copy = tmp_path / "copy"
    shutil.copytree(cluster.data("n1"), copy, ignore=shutil.ignore_patterns("*.sock", "*.log"))
    raw = json.loads((copy / cfg.CONFIG_FILE).read_text())
    raw["bind"] = f"tcp://127.0.0.1:{free_port()}"
    cfg.write_json_atomically(copy / cfg.CONFIG_FILE, raw)

    done = _tablemesh("node", "--data", str(copy))
    assert done.returncode == 1, done.stderr[-2000:]
    assert "another device on this network already runs as n1 of site test" in done.stderr
    assert "Traceback" not in done.stderr
    assert not cfg.control_socket_path(copy).exists()  # nothing stale for the next start
    assert cluster.status("n1")  # the original serves on
