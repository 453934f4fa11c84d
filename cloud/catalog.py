"""The catalog: one JSON document per site (site, items, staff, tenders, ...) with a version.

The mesh defines the document's inner shape; the back office checks only that it is
an object with the expected top-level keys, stores it verbatim and serves it. Versions
only grow; publishing the same document again does not make a new version, so a
catalog file loaded at every start is harmless.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud import strict_json
from cloud.models import CatalogVersion
from cloud.sites import lock_site

# The top-level keys of the mesh ledger's catalog; the mesh validates what is inside.
REQUIRED_KEYS = ("site", "items", "staff", "tenders")


class CatalogError(ValueError):
    """The document is not a catalog; the message says what is missing."""


def validate_catalog(document: Any) -> dict[str, Any]:
    if not isinstance(document, Mapping):
        raise CatalogError("a catalog is a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in document]
    if missing:
        raise CatalogError("catalog is missing top-level keys: " + ", ".join(missing))
    return dict(document)


def digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def current_catalog(session: Session, site_id: int) -> CatalogVersion | None:
    return session.scalar(
        select(CatalogVersion)
        .where(CatalogVersion.site_id == site_id)
        .order_by(CatalogVersion.version.desc())
        .limit(1)
    )


def publish_catalog(session: Session, site_id: int, document: Any) -> tuple[int, bool]:
    """Store ``document`` as the site's catalog; returns (version, changed)."""
    checked = validate_catalog(document)
    lock_site(session, site_id)
    current = current_catalog(session, site_id)
    new_digest = digest(checked)
    if current is not None and current.digest == new_digest:
        return current.version, False
    version = 1 if current is None else current.version + 1
    session.add(
        CatalogVersion(site_id=site_id, version=version, digest=new_digest, document=checked)
    )
    session.flush()
    return version, True


def load_catalog_file(path: Path) -> dict[str, Any]:
    """Read, parse and validate a catalog file; every way it can fail is a ``CatalogError``.

    Parsed as strictly as ``PUT /v1/catalog`` parses a body, so a file holds exactly
    what the API would accept (``NaN`` would otherwise be stored as null).
    """
    try:
        document = strict_json.loads(path.read_bytes())
    except OSError as exc:
        raise CatalogError(f"cannot read catalog file {str(path)!r}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise CatalogError(f"catalog file {str(path)!r} is not JSON: {exc}") from exc
    return validate_catalog(document)
