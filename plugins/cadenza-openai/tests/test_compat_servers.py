"""compat_servers: a missing server package skips locally, fails in CI; a dead server says why."""

from __future__ import annotations

from pathlib import Path

import pytest
from compat_servers import REQUIRE_VAR, require, started

MISSING = "cadenza-no-such-server-package"


@pytest.fixture
def not_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither CI nor the explicit requirement is set."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv(REQUIRE_VAR, raising=False)


@pytest.mark.usefixtures("not_ci")
def test_missing_package_skips_with_a_notice() -> None:
    """Locally, a server package that is not installed skips the test, saying how to get it."""
    with pytest.raises(pytest.skip.Exception, match=f"pip install {MISSING}"):
        require(MISSING)


@pytest.mark.usefixtures("not_ci")
@pytest.mark.parametrize(("name", "value"), [("CI", "true"), (REQUIRE_VAR, "1")])
def test_missing_package_fails_when_required(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    """Under CI=true (or CADENZA_REQUIRE_COMPAT=1) a missing server package fails the test."""
    monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception, match="Required here"):
        require(MISSING)


def test_a_server_that_exits_is_reported_with_its_output(tmp_path: Path) -> None:
    """A server that dies at start fails with its exit code and what it printed, not a hang."""
    with (
        pytest.raises(RuntimeError, match=r"exited with \d+ before it answered"),
        started("cadenza_no_such_module", [], folder=tmp_path, ready_path="/"),
    ):
        pass  # pragma: no cover
