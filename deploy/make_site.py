"""Write the data directory of every device of a real site, on one trusted machine.

``tablemesh site init`` makes a site on one machine (all devices on one host, the
demo and tests); a restaurant's devices each have their own LAN address, role
and station. This script calls the same set-up code with one entry per device::

    .venv/bin/python deploy/make_site.py --out site --site copper-grill \\
        --device hub1=hub@192.168.10.2 \\
        --device term1=terminal@192.168.10.11 --device term2=terminal@192.168.10.12 \\
        --device kds-grill=kds:grill@192.168.10.21 --device kds-expo=kds:expo@192.168.10.22 \\
        --cloud-url https://backoffice.example.com --cloud-token "$SITE_TOKEN"

It writes ``OUT/<device>/`` (keys, node.json, the starting catalog) for each
device and prints the staff PINs once (only their hashes are stored). Copy each
directory to its device (deploy/README.md). Every node listens on port 7400 of
its address and also finds the others by mDNS. The secret keys are made here:
run it on a machine you trust, and delete ``OUT`` once the devices have theirs.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The cloud's own rule for site tokens, so a token it would refuse is refused here,
# before every device's directory holds it (the leader would only meet 401s).
from cloud.sites import SiteError, check_token_strength
from mesh.node import config as cfg
from mesh.node.site_setup import DeviceSpec, init_site

DEVICE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{0,30})=(?P<role>hub|terminal|kds|handheld)"
    r"(?::(?P<station>grill|fry|cold|bar|expo))?@(?P<host>[0-9.]+)$"
)


def cloud_url_problem(url: str) -> str | None:
    """Why the sync agent could never reach ``url``, or None when it is usable.

    The agent appends ``/v1`` to the URL and talks HTTP, so anything else would be
    written into every device's node.json and fail only once a leader tries it.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading it is what checks it: a port that is no number raises
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "use http://HOST or https://HOST (with an optional :PORT and /PATH)"
    if parts.query or parts.fragment or any(c.isspace() for c in url):
        return "no query, fragment or spaces: the agent appends /v1 to it"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where to write the directories")
    parser.add_argument("--site", required=True, help="the site's id (1-31 of A-Z a-z 0-9 - _)")
    parser.add_argument(
        "--device", action="append", required=True, help="NAME=ROLE[:STATION]@IPV4, once per device"
    )
    parser.add_argument(
        "--cloud-url", help="the back office's http:// or https:// URL (omit: no cloud)"
    )
    parser.add_argument(
        "--cloud-token", help="the site's token at the back office (16+ characters, no spaces)"
    )
    parser.add_argument("--no-mdns", action="store_true", help="static addresses only")
    args = parser.parse_args(argv)

    devices: list[DeviceSpec] = []
    hosts: list[str] = []
    for spec in args.device:
        match = DEVICE.match(spec)
        if match is None:
            parser.error(f"--device {spec!r} is not NAME=ROLE[:STATION]@IPV4")
        try:
            address = ipaddress.IPv4Address(match["host"])
        except ValueError as exc:  # 999.1.1.1 or 1.2.3: no node could bind it (010.x: octal?)
            parser.error(f"--device {spec!r}: {match['host']!r} is not an IPv4 address ({exc})")
        if address.is_unspecified or address.is_multicast or address.is_reserved:
            # Every other device is told to dial this address: it must be one device's.
            parser.error(f"--device {spec!r}: {address} is not one device's address")
        devices.append(DeviceSpec(name=match["name"], role=match["role"], station=match["station"]))
        hosts.append(match["host"])
    if bool(args.cloud_url) != bool(args.cloud_token):
        parser.error("give both --cloud-url and --cloud-token, or neither")
    if args.cloud_url:
        problem = cloud_url_problem(args.cloud_url)
        if problem is not None:
            parser.error(f"--cloud-url {args.cloud_url!r}: {problem}")
    if args.cloud_token:
        try:
            check_token_strength(args.cloud_token)
        except SiteError as exc:
            parser.error(f"--cloud-token: {exc}")  # the token itself stays off the screen
    cloud = cfg.CloudConfig(url=args.cloud_url, token=args.cloud_token) if args.cloud_url else None
    try:
        logins = init_site(
            args.out,
            devices,
            site=args.site,
            hosts=hosts,
            ports=[7400] * len(devices),
            mdns=not args.no_mdns,
            cloud=cloud,
        )
    except (FileExistsError, ValueError) as exc:
        print(f"make_site: {exc}", file=sys.stderr)
        return 1
    print(f"site {args.site!r}: {len(devices)} devices in {args.out}/")
    for device, host in zip(devices, hosts, strict=True):
        print(f"  {device.name:<12} {device.role:<9} {device.station or '':<6} tcp://{host}:7400")
    print("staff PINs (write them down now: they are not stored):")
    for login in logins:
        print(f"  {login.name:<6} {login.role:<10} PIN {login.pin}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
