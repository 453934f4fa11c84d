"""Sites and their bearer tokens: create, verify, look up by token.

Tokens are random secrets shown once; only their SHA-256 digest is stored. A fast
digest is enough because tokens made here carry 256 random bits (slow hashing is for
guessable secrets such as PINs); tokens given on the command line must be long too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.models import Site

MIN_TOKEN_LENGTH = 16


class SiteError(Exception):
    """A site cannot be created or verified as asked; the message says why."""


class SiteConflict(SiteError):
    """The name or token is already taken, or the site exists with another token."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check_token_strength(token: str) -> None:
    if len(token) < MIN_TOKEN_LENGTH or not token.isprintable() or " " in token:
        raise SiteError(
            f"a site token needs at least {MIN_TOKEN_LENGTH} printable characters and no spaces"
        )


def check_site_name(name: str) -> None:
    if not (1 <= len(name) <= 128) or not name.isprintable():
        raise SiteError("a site name is 1 to 128 printable characters")


def create_site(session: Session, name: str, token: str | None = None) -> tuple[Site, str]:
    """Create site ``name``; returns it with its token (made here unless given)."""
    check_site_name(name)
    token = new_token() if token is None else token
    check_token_strength(token)
    if session.scalar(select(Site).where(Site.name == name)) is not None:
        raise SiteConflict(f"site {name!r} already exists")
    if session.scalar(select(Site).where(Site.token_hash == hash_token(token))) is not None:
        raise SiteConflict("that token already belongs to another site")
    site = Site(name=name, token_hash=hash_token(token))
    session.add(site)
    session.flush()
    return site, token


def ensure_site(session: Session, name: str, token: str) -> tuple[Site, bool]:
    """Create site ``name`` with ``token``, or verify that it already has that token.

    Returns the site and whether it was created. Safe to run at every start.
    """
    existing = session.scalar(select(Site).where(Site.name == name))
    if existing is None:
        site, _ = create_site(session, name, token)
        return site, True
    if not hmac.compare_digest(existing.token_hash, hash_token(token)):
        raise SiteConflict(f"site {name!r} exists with a different token")
    return existing, False


def site_for_token(session: Session, token: str) -> Site | None:
    return session.scalar(select(Site).where(Site.token_hash == hash_token(token)))


def lock_site(session: Session, site_id: int) -> Site:
    """Take the site's row lock: one site's writes queue here, other sites' do not.

    On PostgreSQL this is ``SELECT ... FOR UPDATE``; SQLite ignores it, but there every
    transaction already holds the database write lock from BEGIN IMMEDIATE.
    """
    return session.execute(select(Site).where(Site.id == site_id).with_for_update()).scalar_one()
