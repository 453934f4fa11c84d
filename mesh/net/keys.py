"""A node's CURVE identity: create it once, keep it in the data dir, load it on restart.

Keys are Z85 text (40 characters). The secret key file is created owner-only
(0600) in one atomic step and refused on load if anyone else may read it. The
fingerprint (a short sha256 of the public key) is what a manager compares on two
screens when enrolling a device.

This module must never log, print or send a secret key, and never loosen a file's
permissions.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import zmq
from zmq.utils import z85

SECRET_FILE: Final = "curve.secret"  # Z85 secret key, mode 0600
PUBLIC_FILE: Final = "curve.public"  # Z85 public key, mode 0600 (derivable, kept for humans)
Z85_KEY_CHARS: Final = 40  # characters of a Z85-encoded 32-byte CURVE key
FINGERPRINT_HEX_CHARS: Final = 16  # hex characters kept of the sha256 (64 bits)
_Z85_ALPHABET: Final = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
)


class KeyFileError(Exception):
    """A key file that is missing a partner, unreadable, malformed or too open."""


class MissingKeyError(KeyFileError):
    """No secret key file where one must already be (``create=False``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPair:
    """A CURVE key pair as Z85 text. ``repr`` never shows the secret."""

    public: str
    secret: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)


def is_z85_key(text: object) -> bool:
    """True for a 40-character Z85 string (the encoding of a 32-byte CURVE key)."""
    return (
        isinstance(text, str)
        and len(text) == Z85_KEY_CHARS
        and all(char in _Z85_ALPHABET for char in text)
    )


def fingerprint(public_key: str) -> str:
    """Short sha256 of the raw 32-byte public key, as lowercase hex."""
    if not is_z85_key(public_key):
        raise ValueError("not a Z85 CURVE public key")
    raw = z85.decode(public_key.encode("ascii"))
    return hashlib.sha256(raw).hexdigest()[:FINGERPRINT_HEX_CHARS]


def generate_keypair() -> KeyPair:
    public, secret = zmq.curve_keypair()
    return KeyPair(public=public.decode("ascii"), secret=secret.decode("ascii"))


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parent owner-only (0700).

    ``Path.mkdir(parents=True)`` gives the parents it makes the umask's mode (0755
    as a rule), and the parent of a keys directory is the node's data directory.
    A directory that already exists is left as it is: its mode is the operator's.
    """
    missing: list[Path] = []
    path = directory
    while not path.exists():
        missing.append(path)
        path = path.parent
    for path in reversed(missing):
        # Someone else may make it meanwhile: then it is theirs, mode included.
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)


def load_or_create_keypair(directory: Path | str, *, create: bool = True) -> KeyPair:
    """The key pair kept in ``directory``, created (with the directory) on first use.

    With ``create=False`` a missing secret key is ``MissingKeyError``: a device the
    site knows by its key must not quietly become another device.
    """
    directory = Path(directory)
    secret_path = directory / SECRET_FILE
    public_path = directory / PUBLIC_FILE
    if not secret_path.exists():
        if not create:
            raise MissingKeyError(f"{secret_path.name} is missing from {directory}")
        if public_path.exists():
            raise KeyFileError(f"{public_path.name} exists without {secret_path.name}")
        make_private_dir(directory)
        pair = generate_keypair()
        # The secret lands first: a crash between the two writes leaves a pair that
        # load can repair (the public key is derived), never a lone public key.
        _write_private(secret_path, pair.secret)
        _write_private(public_path, pair.public)
        return pair
    secret = _read_private(secret_path)
    public = zmq.curve_public(secret.encode("ascii")).decode("ascii")
    if public_path.exists():
        stored = _read_private(public_path)
        if stored != public:
            raise KeyFileError(f"{public_path.name} does not match {secret_path.name}")
    else:
        _write_private(public_path, public)
    return KeyPair(public=public, secret=secret)


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    # O_EXCL with mode 0600: the file is never, even briefly, readable by others.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, f"{text}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _read_private(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"{path.name} is accessible by others (mode {mode & 0o777:o})")
    text = path.read_text("ascii").strip()
    if not is_z85_key(text):
        raise KeyFileError(f"{path.name} does not hold a Z85 CURVE key")
    return text
