"""Fake installed plugin distributions for the plugin-loading tests.

A :class:`Site` is a fresh directory on ``sys.path`` holding modules and
``*.dist-info`` directories (``METADATA`` + ``entry_points.txt``), so
``importlib.metadata.entry_points(group="cadenza")`` finds them exactly as it
finds pip-installed plugins: real discovery, no monkeypatched metadata.
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import attrs
import pytest

COMPATIBLE = '">=1.0,<2"'


@attrs.define
class Site:
    """A directory on ``sys.path`` to "install" fake plugin distributions into."""

    path: Path
    modules: list[str] = attrs.field(factory=list)

    def add_module(self, name: str, source: str) -> None:
        """Write module ``name`` (a single file) with ``source`` (dedented)."""
        (self.path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        self.modules.append(name)
        importlib.invalidate_caches()

    def add_dist(
        self,
        distribution: str,
        version: str,
        entry_points: Mapping[str, str],
        modules: Mapping[str, str] | None = None,
    ) -> None:
        """Install ``distribution`` with ``cadenza`` entry points and its modules."""
        for name, source in (modules or {}).items():
            self.add_module(name, source)
        info = self.path / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n",
            encoding="utf-8",
        )
        lines = ["[cadenza]", *(f"{name} = {value}" for name, value in entry_points.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        importlib.invalidate_caches()

    def add_plugin(
        self,
        distribution: str,
        version: str,
        body: str,
        *,
        hook_api: str | None = COMPATIBLE,
        entry_point: str | None = None,
    ) -> str:
        """Install a one-module plugin; return its entry-point name.

        The entry point is named after the distribution minus ``cadenza-``; the
        module is ``cadenza_<name>``; ``hook_api`` (a Python literal, or None to
        leave it out) is its ``CADENZA_HOOK_API``.
        """
        name = entry_point or distribution.removeprefix("cadenza-")
        module = f"cadenza_{name}".replace("-", "_")
        header = "import cadenza\n"
        if hook_api is not None:
            header += f"CADENZA_HOOK_API = {hook_api}\n"
        self.add_dist(
            distribution,
            version,
            {name: module},
            {module: header + textwrap.dedent(body)},
        )
        return name


def open_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """Yield a fresh, empty site directory on ``sys.path``; unload its modules afterwards.

    Test modules wrap this in their ``site`` fixture.
    """
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    s = Site(path=path)
    yield s
    for name in s.modules:
        sys.modules.pop(name, None)
    importlib.invalidate_caches()


def clear_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop CADENZA_LOAD_PLUGINS / CADENZA_TRACE_HOOKS inherited from the caller's shell."""
    monkeypatch.delenv("CADENZA_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("CADENZA_TRACE_HOOKS", raising=False)
