"""Without a browser the browser test skips with a notice; CADENZA_REQUIRE_BROWSER makes it fail."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ._chromium import browser_required, find_chromium, missing_notice
from .conftest import locate_chromium


@pytest.fixture
def empty_path(tmp_path: Path) -> str:
    """A PATH holding one empty directory: no chromium anywhere on it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return str(bin_dir)


def fake_executable(folder: Path, name: str) -> Path:
    """An executable file called ``name`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_not_enabled_is_a_skip() -> None:
    """Without CADENZA_BROWSER_TESTS the test skips, even when a browser is required."""
    environ = {"CADENZA_REQUIRE_BROWSER": "1", "PATH": os.environ.get("PATH", "")}
    with pytest.raises(pytest.skip.Exception, match="set CADENZA_BROWSER_TESTS=1"):
        locate_chromium(environ)


def test_no_chromium_is_a_skip_with_a_notice(empty_path: str) -> None:
    """Enabled but with no chromium on PATH, the test skips saying how to install one."""
    environ = {"CADENZA_BROWSER_TESTS": "1", "PATH": empty_path}
    with pytest.raises(pytest.skip.Exception) as info:
        locate_chromium(environ)
    notice = str(info.value)
    assert "chromium not found (no chromium or chromium-browser on PATH" in notice
    assert "apt-get install chromium" in notice
    assert "CADENZA_REQUIRE_BROWSER=1, as .ci/run sets, makes this an error" in notice


def test_no_chromium_fails_when_required(empty_path: str) -> None:
    """With CADENZA_REQUIRE_BROWSER=1 (CI), a missing chromium is a failure, not a skip."""
    environ = {"CADENZA_BROWSER_TESTS": "1", "CADENZA_REQUIRE_BROWSER": "1", "PATH": empty_path}
    with pytest.raises(pytest.fail.Exception, match="because CADENZA_REQUIRE_BROWSER is set"):
        locate_chromium(environ)


@pytest.mark.parametrize(
    ("value", "required"), [("1", True), ("yes", True), ("0", False), ("", False)]
)
def test_require_variable_values(value: str, required: bool) -> None:
    """CADENZA_REQUIRE_BROWSER requires a browser unless it is empty or 0."""
    assert browser_required({"CADENZA_REQUIRE_BROWSER": value}) is required
    assert browser_required({}) is False


def test_chromium_is_found_on_path(tmp_path: Path) -> None:
    """chromium-browser counts too (Ubuntu's name), found on the given PATH."""
    path = fake_executable(tmp_path / "bin", "chromium-browser")
    assert find_chromium({"PATH": str(path.parent)}) == str(path)


def test_chromium_variable_wins_and_must_exist(tmp_path: Path, empty_path: str) -> None:
    """$CHROMIUM names the browser; one naming no file counts as missing, and the notice says so."""
    path = fake_executable(tmp_path / "opt", "my-chromium")
    assert find_chromium({"CHROMIUM": str(path), "PATH": empty_path}) == str(path)
    missing = {"CHROMIUM": str(tmp_path / "nope"), "PATH": empty_path}
    assert find_chromium(missing) is None
    assert f"$CHROMIUM is {str(tmp_path / 'nope')!r}, which is not a file" in missing_notice(
        missing
    )
