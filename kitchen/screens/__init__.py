"""The KDS's screens: each a thin Screen class beside its own ``.kv`` file."""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

_loaded: set[str] = set()


def load_kv(module_file: str) -> None:
    """Load the ``.kv`` beside ``module_file`` (or that ``.kv`` itself) once: Kivy warns twice."""
    path = str(Path(module_file).with_suffix(".kv"))
    if path not in _loaded:
        Builder.load_file(path)
        _loaded.add(path)
