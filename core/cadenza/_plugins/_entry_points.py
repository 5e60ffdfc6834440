"""The ``cadenza`` entry points of installed distributions, found without ``importlib.metadata``.

``importlib.metadata`` imports ``email``, ``zipfile``, ``csv`` and more, and
parses every distribution's metadata: 40-60 ms of each ``cadenza run``, with
no plugin installed. What it does for a plain directory on ``sys.path`` is
small: list the ``*.dist-info`` / ``*.egg-info`` entries, keep the first
distribution of each normalized name (path order, then directory order), read
its ``entry_points.txt``. :func:`entry_points` does that, and reads a
distribution's ``Name`` and ``Version`` only when it has an entry point of the
group. Whatever it does not read the same way -- a zip or ``.egg`` on
``sys.path``, a finder in ``sys.meta_path`` that finds distributions of its
own -- sends the whole search to ``importlib.metadata`` (a test checks both
agree).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from importlib import import_module
from typing import Any

__all__ = ["FoundEntryPoint", "entry_points"]

_INFO_SUFFIXES = (".dist-info", ".egg-info")


class FoundEntryPoint:
    """One entry point: its name and value, its distribution's name and version."""

    __slots__ = ("_load", "distribution", "group", "name", "value", "version")

    def __init__(
        self,
        *,
        name: str,
        value: str,
        group: str,
        distribution: str,
        version: str,
        load: Any = None,
    ) -> None:
        self.name = name
        self.value = value
        self.group = group
        self.distribution = distribution
        self.version = version
        self._load = load

    def load(self) -> Any:
        """Import the module and return the object ``value`` names, as ``EntryPoint.load``."""
        if self._load is not None:
            return self._load()
        match = _PATTERN.match(self.value)
        if match is None:  # importlib.metadata fails the same way, with an AttributeError
            raise ValueError(f"malformed entry point value {self.value!r}")
        module = import_module(match.group("module"))
        names = filter(None, (match.group("attr") or "").split("."))
        return functools.reduce(getattr, names, module)

    def __repr__(self) -> str:
        return (
            f"FoundEntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r}, "
            f"distribution={self.distribution!r}, version={self.version!r})"
        )


_PATTERN = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
"""``importlib.metadata.EntryPoint.pattern``."""


def entry_points(group: str) -> list[FoundEntryPoint]:
    """Every entry point of ``group``, in the order ``importlib.metadata.entry_points`` gives."""
    if not _plain_search_path():
        return _from_importlib_metadata(group)
    found: list[FoundEntryPoint] = []
    seen: set[str] = set()
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:  # missing, or not a directory (checked by _plain_search_path)
            continue
        for child in children:
            low = child.lower()
            if not low.endswith(_INFO_SUFFIXES):
                continue
            normalized = _normalize(low.rpartition(".")[0].partition("-")[0])
            if normalized in seen:
                continue
            seen.add(normalized)
            found.extend(_group_of(os.path.join(root, child), group))
    return found


def _plain_search_path() -> bool:
    """Whether every place ``importlib.metadata`` would search is a plain directory."""
    for finder in sys.meta_path:
        finds = getattr(finder, "find_distributions", None)
        if finds is not None and getattr(finder, "__name__", "") != "PathFinder":
            return False
    for entry in sys.path:
        if entry.lower().endswith(".egg") or (entry and os.path.isfile(entry)):
            return False
    return True


_SEPARATORS = re.compile(r"[-_.]+")


def _normalize(name: str) -> str:
    """``importlib.metadata.Prepared.normalize`` (PEP 503, with underscores)."""
    return _SEPARATORS.sub("_", name).lower()


def _group_of(info: str, group: str) -> list[FoundEntryPoint]:
    """The entry points of ``group`` in the distribution whose metadata is in ``info``."""
    try:
        with open(os.path.join(info, "entry_points.txt"), encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    if f"[{group}]" not in text:  # the common case: most distributions have none
        return []
    pairs: list[tuple[str, str]] = []
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section == group:
            name, _, value = line.partition("=")
            pairs.append((name.strip(), value.strip()))
    if not pairs:
        return []
    name, version = _name_and_version(info)
    return [
        FoundEntryPoint(name=n, value=v, group=group, distribution=name, version=version)
        for n, v in pairs
    ]


def _name_and_version(info: str) -> tuple[str, str]:
    """``Name`` and ``Version`` from the headers of ``METADATA`` (or ``PKG-INFO``)."""
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(info, filename), encoding="utf-8") as f:
                headers: dict[str, str] = {}
                for line in f:
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if sep and not key.startswith((" ", "\t")):
                        headers.setdefault(key.strip().lower(), value.strip())
                return headers.get("name", ""), headers.get("version", "")
        except OSError:
            continue
    return "", ""


def _from_importlib_metadata(group: str) -> list[FoundEntryPoint]:
    import importlib.metadata

    found = []
    for ep in importlib.metadata.entry_points(group=group):
        dist = ep.dist
        found.append(
            FoundEntryPoint(
                name=ep.name,
                value=ep.value,
                group=group,
                distribution=dist.name if dist is not None else "",
                version=dist.version if dist is not None else "",
                load=ep.load,
            )
        )
    return found
