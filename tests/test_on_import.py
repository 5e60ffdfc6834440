"""when_imported runs set-up once a module is imported, without importing it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza._on_import import when_imported


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("cadenza_fake_")]:
        del sys.modules[name]


def test_runs_after_the_first_import_only(site: Path) -> None:
    """Nothing runs until the module is imported; then once, with the module complete."""
    (site / "cadenza_fake_a.py").write_text("VALUE = 42\n", encoding="utf-8")
    seen: list[int] = []
    when_imported("cadenza_fake_a", lambda: seen.append(sys.modules["cadenza_fake_a"].VALUE))
    assert seen == []
    assert "cadenza_fake_a" not in sys.modules
    importlib.import_module("cadenza_fake_a")
    assert seen == [42]
    importlib.reload(sys.modules["cadenza_fake_a"])
    assert seen == [42]


def test_runs_at_once_when_already_imported(site: Path) -> None:
    """A module already imported gets its set-up immediately, and no finder is left behind."""
    (site / "cadenza_fake_b.py").write_text("", encoding="utf-8")
    importlib.import_module("cadenza_fake_b")
    finders = list(sys.meta_path)
    seen: list[str] = []
    when_imported("cadenza_fake_b", lambda: seen.append("b"))
    assert seen == ["b"]
    assert sys.meta_path == finders


def test_a_failed_import_waits_for_the_next_attempt(site: Path) -> None:
    """If the module fails to import, the set-up runs after a later import that succeeds."""
    module = site / "cadenza_fake_c.py"
    module.write_text("raise RuntimeError('broken')\n", encoding="utf-8")
    seen: list[str] = []
    when_imported("cadenza_fake_c", lambda: seen.append("c"))
    with pytest.raises(RuntimeError, match="broken"):
        importlib.import_module("cadenza_fake_c")
    assert seen == []
    module.write_text("", encoding="utf-8")
    importlib.invalidate_caches()
    sys.modules.pop("cadenza_fake_c", None)
    importlib.import_module("cadenza_fake_c")
    assert seen == ["c"]
