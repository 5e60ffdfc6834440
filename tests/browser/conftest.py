"""Browser-test fixtures: the system's chromium, or a skip (a failure when required).

The browser test runs only when ``CADENZA_BROWSER_TESTS`` is set (``nox -s
browser`` sets it). Then a missing chromium or Playwright skips it with a
notice saying how to get them, unless ``CADENZA_REQUIRE_BROWSER=1`` (set by
``.ci/run``, and by ``nox -s browser`` once it has found chromium and
installed Playwright) makes that a failure.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import NoReturn

import pytest

from ._chromium import browser_required, find_chromium, missing_notice

ENABLE_VAR = "CADENZA_BROWSER_TESTS"


def unavailable(notice: str, environ: Mapping[str, str]) -> NoReturn:
    """Fail with ``notice`` if a browser is required, else skip with it."""
    if browser_required(environ):
        pytest.fail(notice, pytrace=False)
    pytest.skip(notice)


def locate_chromium(environ: Mapping[str, str]) -> str:
    """The chromium to drive; skips (or fails, when required) without it or Playwright."""
    if not environ.get(ENABLE_VAR):
        pytest.skip(f"browser test: set {ENABLE_VAR}=1 (nox -s browser does)")
    path = find_chromium(environ)
    if path is None:
        unavailable(missing_notice(environ), environ)
    if importlib.util.find_spec("playwright") is None:
        notice = "playwright is not installed: pip install playwright (nox -s browser does)"
        unavailable(notice, environ)
    return path


@pytest.fixture
def chromium() -> str:
    """The system chromium's path; skip outside ``nox -s browser``, or without a browser."""
    return locate_chromium(os.environ)
