"""The CLI's logging is configured when structlog is first imported, not before."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


@pytest.mark.slow
def test_a_kernel_log_line_imports_and_configures_structlog() -> None:
    """Asked for before structlog is imported, the configuration is there at the first log."""
    done = _run(
        """
        import logging, sys
        from cadenza._logging import configure_logging_on_import, get_logger
        log = get_logger("cadenza.test")
        configure_logging_on_import(level=logging.WARNING)
        assert "structlog" not in sys.modules
        log.info("not_shown")
        log.warning("shown_event", attempt=2, duration=0.123)
        """
    )
    assert done.stdout == ""
    assert "[warning] shown_event attempt=2 duration=0.12s" in done.stderr
    assert "not_shown" not in done.stderr


@pytest.mark.slow
def test_whoever_imports_structlog_first_gets_it_configured() -> None:
    """A plugin importing structlog itself logs to stderr in the CLI's format, not to stdout."""
    done = _run(
        """
        import logging
        from cadenza._logging import configure_logging_on_import
        configure_logging_on_import(level=logging.WARNING)
        import structlog
        assert structlog.is_configured()
        structlog.get_logger().warning("plugin_event", key="value")
        """
    )
    assert done.stdout == ""
    assert "[warning] plugin_event key=value" in done.stderr


@pytest.mark.slow
def test_structlog_already_imported_is_configured_at_once() -> None:
    """With structlog imported, the configuration applies immediately, and no finder is left."""
    done = _run(
        """
        import logging, sys
        import structlog
        from cadenza._logging import configure_logging_on_import
        finders = list(sys.meta_path)
        configure_logging_on_import(level=logging.ERROR)
        assert structlog.is_configured()
        assert sys.meta_path == finders
        structlog.get_logger().warning("hidden")
        structlog.get_logger().error("error_event")
        """
    )
    assert done.stdout == ""
    assert "hidden" not in done.stderr
    assert "[error] error_event" in done.stderr


def test_library_use_stays_silent_without_structlog() -> None:
    """Without the CLI's request, kernel loggers drop everything and import nothing."""
    done = _run(
        """
        import sys
        from cadenza._logging import get_logger
        get_logger("cadenza.test").warning("dropped")
        assert "structlog" not in sys.modules
        """
    )
    assert done.stdout == done.stderr == ""


@pytest.mark.slow
def test_calls_below_the_pending_level_do_not_import_structlog() -> None:
    """A bound kernel logger answers ``is_enabled_for`` and drops debug lines without structlog."""
    done = _run(
        """
        import logging, sys
        from cadenza._logging import bound_contextvars, configure_logging_on_import, get_logger
        configure_logging_on_import(level=logging.WARNING)
        logger = get_logger("cadenza.test").bind(step_id="s")
        with bound_contextvars(run_id="r1"):
            logger.debug("dropped")
            logger.log(logging.INFO, "dropped_too")
            assert not logger.is_enabled_for(logging.INFO)
            assert logger.is_enabled_for(logging.WARNING)
        assert "structlog" not in sys.modules
        """
    )
    assert done.stdout == done.stderr == ""


@pytest.mark.slow
def test_context_bound_before_structlog_reaches_every_line() -> None:
    """Values bound before structlog is imported are on the kernel's and a plugin's lines."""
    done = _run(
        """
        import logging, sys
        from cadenza._logging import bound_contextvars, configure_logging_on_import, get_logger
        configure_logging_on_import(level=logging.WARNING)
        logger = get_logger("cadenza.test").bind(step_id="s")
        with bound_contextvars(run_id="r1"):
            logger.log(logging.WARNING, "kernel_event", attempt=2)
            import structlog
            with bound_contextvars(observer="o"):
                structlog.get_logger().warning("plugin_event")
        structlog.get_logger().warning("after_run")
        """
    )
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert "[warning] kernel_event attempt=2 run_id=r1 step_id=s" in lines[0]
    assert "plugin_event" in lines[1]
    assert "observer=o" in lines[1]
    assert "run_id=r1" in lines[1]
    assert "run_id" not in lines[2]
