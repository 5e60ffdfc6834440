"""Kernel test configuration: quiet, deterministic logging for every test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

try:  # absent from sessions that run only a few tests (nox -s docs)
    from hypothesis import settings
except ImportError:  # pragma: no cover
    pass
else:
    # No per-example deadline: these machines are shared and loaded, and timing is measured
    # in benchmarks/, never asserted by tests (a slow example is not a wrong one).
    settings.register_profile("cadenza", deadline=None)
    settings.load_profile("cadenza")

# Separate distributions with tests of their own, run by `nox -s legacy_plugins`.
collect_ignore = ["legacy_plugins"]


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Route structlog to a level-filtered logger so tests don't print every event."""
    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    yield
    structlog.reset_defaults()
