"""cadenza_postgres.testing: finding the server binaries, skipping or failing without them."""

from __future__ import annotations

from pathlib import Path

import pytest
from cadenza_postgres import testing
from cadenza_postgres.testing import Server, find_bin_dir, require_binaries


def _fake_bin(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        (folder / name).write_text("#!/bin/sh\n")
    return folder


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No binaries anywhere: empty PATH, no Debian folder, no override, not CI."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(testing, "DEBIAN_ROOT", tmp_path / "no-debian")
    for name in ("CADENZA_POSTGRES_BIN", "CI", "CADENZA_REQUIRE_POSTGRES"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("nowhere")
def test_override_and_debian_layout_are_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """CADENZA_POSTGRES_BIN wins; otherwise the newest /usr/lib/postgresql/<v>/bin."""
    assert find_bin_dir() is None
    debian = tmp_path / "debian"
    _fake_bin(debian / "13" / "bin")
    newest = _fake_bin(debian / "16" / "bin")
    monkeypatch.setattr(testing, "DEBIAN_ROOT", debian)
    assert find_bin_dir() == newest
    mine = _fake_bin(tmp_path / "mine")
    monkeypatch.setenv("CADENZA_POSTGRES_BIN", str(mine))
    assert find_bin_dir() == mine


@pytest.mark.usefixtures("nowhere")
def test_missing_binaries_skip_with_a_notice() -> None:
    """Locally, no server binaries means a skip that says what to install."""
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        require_binaries()


@pytest.mark.usefixtures("nowhere")
@pytest.mark.parametrize(("name", "value"), [("CI", "true"), ("CADENZA_REQUIRE_POSTGRES", "1")])
def test_missing_binaries_fail_when_required(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Under CI=true (or CADENZA_REQUIRE_POSTGRES=1) missing binaries fail the test."""
    monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception, match="required"):
        require_binaries()


def test_server_listens_on_loopback_with_its_socket_in_its_folder(server: Server) -> None:
    """The throwaway server answers on 127.0.0.1 and keeps its files in one temp folder."""
    assert server.host == "127.0.0.1"
    assert server.sql("SHOW listen_addresses") == "127.0.0.1"
    assert server.sql("SHOW unix_socket_directories") == str(server.socket_dir)
    assert server.socket_dir.parent == server.data_dir.parent
