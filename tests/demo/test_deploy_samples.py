"""deploy/ stays true: samples load, every option is explained, units do what the guide says."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from kitchen.settings import KitchenSettings, load_settings
from mesh.node import config as cfg

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CLOUD_TOKEN = "0123456789abcdef-site"  # the cloud wants 16+ characters


def test_sample_node_and_kitchen_files_load_and_every_option_is_explained(tmp_path: Path) -> None:
    node = cfg.NodeConfig.from_json(json.loads((DEPLOY / "config" / "node.json").read_text()))
    assert node.role == "hub" and node.peers
    (tmp_path / "kitchen.json").write_text((DEPLOY / "config" / "kitchen.json").read_text())
    assert load_settings(tmp_path).fullscreen
    explained = (DEPLOY / "config" / "README.md").read_text()
    for name in [f.name for f in fields(cfg.NodeConfig)] + [
        f.name for f in fields(KitchenSettings)
    ]:
        assert f"`{name}`" in explained, f"deploy/config/README.md does not explain {name}"


def test_units_restart_a_failed_node_and_stop_it_with_sigterm() -> None:
    node = (DEPLOY / "systemd" / "tablemesh-node.service").read_text()
    assert "Restart=on-failure" in node and "KillSignal=SIGTERM" in node
    assert "tablemesh node --data" in node
    kiosk = (DEPLOY / "systemd" / "tablemesh-kiosk@.service").read_text()
    assert "Restart=always" in kiosk and "PAMName=login" in kiosk
    assert "tablemesh-kiosk-session" in kiosk


def test_make_site_writes_a_directory_per_device_with_its_lan_address(tmp_path: Path) -> None:
    out = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, str(DEPLOY / "make_site.py"), "--out", str(out), "--site", "grill",
         "--device", "hub1=hub@127.0.0.2", "--device", "t1=terminal@127.0.0.11",
         "--device", "k1=kds:grill@127.0.0.21",
         "--cloud-url", "http://127.0.0.1:8750/", "--cloud-token", CLOUD_TOKEN],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "PIN" in done.stdout
    kds = cfg.load(out / "k1")
    assert kds.bind == "tcp://127.0.0.21:7400" and kds.station == "grill"
    assert kds.cloud == cfg.CloudConfig(url="http://127.0.0.1:8750/", token=CLOUD_TOKEN)
    assert kds.peers["hub1"].address == "tcp://127.0.0.2:7400"
    assert sorted(kds.voters) == ["hub1", "k1", "t1"]


@pytest.mark.parametrize(
    ("site", "devices", "why"),
    [
        ("Luigi's", ["a=hub@127.0.0.2"], "site \"Luigi's\": use 1-31 of A-Z a-z 0-9 - _"),
        ("x" * 32, ["a=hub@127.0.0.2"], "use 1-31 of"),
        ("grill", ["a=hub@127.0.0.2", "b=terminal@127.0.0.2"],
         "a and b would both listen on 127.0.0.2:7400"),
    ],
)  # fmt: skip
def test_make_site_refuses_what_no_node_could_start_with(
    tmp_path: Path, site: str, devices: list[str], why: str
) -> None:
    out = tmp_path / "site"
    argv = [sys.executable, str(DEPLOY / "make_site.py"), "--out", str(out), "--site", site]
    for device in devices:
        argv += ["--device", device]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and why in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not out.exists()


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--device", "a=hub@999.1.1.1"], "'999.1.1.1' is not an IPv4 address"),
        (["--device", "a=hub@0.0.0.0"], "0.0.0.0 is not one device's address"),
        (["--device", "a=hub@127.0.0.2", "--device", "b=terminal@127.0.0"],
         "'127.0.0' is not an IPv4 address"),
        (["--cloud-url", "http://127.0.0.1:8750", "--cloud-token", "x"],
         "--cloud-token: a site token needs at least 16"),
        (["--cloud-url", "http://127.0.0.1:8750", "--cloud-token", "sixteen chars but spaces"],
         "--cloud-token: a site token needs at least 16"),
        (["--cloud-url", "notaurl", "--cloud-token", CLOUD_TOKEN],
         "--cloud-url 'notaurl': use http://HOST or https://HOST"),
        (["--cloud-url", "ftp://127.0.0.1", "--cloud-token", CLOUD_TOKEN], "use http://HOST"),
        (["--cloud-url", "https://", "--cloud-token", CLOUD_TOKEN], "use http://HOST"),
        (["--cloud-url", "http://127.0.0.1:port", "--cloud-token", CLOUD_TOKEN], "not a URL"),
        (["--cloud-url", "http://127.0.0.1/?site=1", "--cloud-token", CLOUD_TOKEN],
         "no query, fragment or spaces"),
    ],
)  # fmt: skip
def test_make_site_refuses_values_that_could_only_fail_on_the_devices(
    tmp_path: Path, args: list[str], why: str
) -> None:
    out = tmp_path / "site"
    if "--device" not in args:
        args = ["--device", "a=hub@127.0.0.2", *args]
    argv = [sys.executable, str(DEPLOY / "make_site.py"), "--out", str(out), "--site", "grill"]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and why in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    assert "sixteen chars" not in done.stderr  # a token is a secret: never echoed
