"""Key files: created once with owner-only permissions, reloaded identically, refused when open."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import zmq

from mesh.net import keys


def test_keypair_is_created_once_and_reloaded(tmp_path: Path) -> None:
    directory = tmp_path / "node" / "keys"
    created = keys.load_or_create_keypair(directory)
    assert keys.is_z85_key(created.public) and keys.is_z85_key(created.secret)
    assert zmq.curve_public(created.secret.encode()).decode() == created.public
    for name in (keys.SECRET_FILE, keys.PUBLIC_FILE):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert keys.load_or_create_keypair(directory) == created
    assert not [p for p in directory.iterdir() if p.name.startswith(".")]


def test_fingerprint_is_a_short_stable_hash_of_the_public_key(tmp_path: Path) -> None:
    pair = keys.load_or_create_keypair(tmp_path)
    assert pair.fingerprint == keys.fingerprint(pair.public)
    assert len(pair.fingerprint) == keys.FINGERPRINT_HEX_CHARS
    assert int(pair.fingerprint, 16) >= 0
    assert keys.generate_keypair().fingerprint != pair.fingerprint
    with pytest.raises(ValueError):
        keys.fingerprint("short")


def test_the_secret_never_shows_in_repr(tmp_path: Path) -> None:
    pair = keys.load_or_create_keypair(tmp_path)
    assert pair.secret not in repr(pair)
    assert pair.public in repr(pair)


def test_a_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys.load_or_create_keypair(tmp_path)
    os.chmod(tmp_path / keys.SECRET_FILE, 0o644)
    with pytest.raises(keys.KeyFileError, match="accessible by others"):
        keys.load_or_create_keypair(tmp_path)


def test_mismatched_or_corrupt_files_are_refused(tmp_path: Path) -> None:
    keys.load_or_create_keypair(tmp_path)
    public = tmp_path / keys.PUBLIC_FILE
    public.write_text(keys.generate_keypair().public + "\n")
    with pytest.raises(keys.KeyFileError, match="does not match"):
        keys.load_or_create_keypair(tmp_path)
    (tmp_path / keys.SECRET_FILE).write_text("not a key\n")
    with pytest.raises(keys.KeyFileError, match="Z85"):
        keys.load_or_create_keypair(tmp_path)


def test_a_lost_public_file_is_rebuilt_but_a_lone_one_is_refused(tmp_path: Path) -> None:
    pair = keys.load_or_create_keypair(tmp_path / "a")
    (tmp_path / "a" / keys.PUBLIC_FILE).unlink()
    assert keys.load_or_create_keypair(tmp_path / "a") == pair
    lone = tmp_path / "b"
    lone.mkdir()
    (lone / keys.PUBLIC_FILE).write_text(pair.public)
    with pytest.raises(keys.KeyFileError, match="without"):
        keys.load_or_create_keypair(lone)


def test_a_missing_secret_is_made_only_when_asked(tmp_path: Path) -> None:
    with pytest.raises(keys.MissingKeyError, match=r"curve\.secret is missing"):
        keys.load_or_create_keypair(tmp_path / "k", create=False)
    assert not (tmp_path / "k").exists()
    pair = keys.load_or_create_keypair(tmp_path / "k")
    assert keys.load_or_create_keypair(tmp_path / "k", create=False) == pair


def test_directories_made_for_keys_are_owner_only_up_to_the_first_that_existed(
    tmp_path: Path,
) -> None:
    old_umask = os.umask(0o022)  # mkdir -p would give the parents 0755
    try:
        tmp_path.chmod(0o755)
        keys.load_or_create_keypair(tmp_path / "data" / "keys")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "data" / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # not ours: left alone
