"""Cadenza used as a library prints nothing unless the application configures logging."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from cadenza._logging import get_logger

EMBEDDING_APP = textwrap.dedent(
    """
    import trio

    import cadenza
    import cadenza.plugins


    class Noop:
        name = "noop"

        async def run(self, request):
            return cadenza.AgentResult(output={"ok": True})

        async def aclose(self):
            pass


    class NoopPlugin:
        @cadenza.hookimpl
        def cadenza_agent_kinds(self, register):
            register("noop", lambda config: Noop())


    async def main():
        plugins = cadenza.plugins.load_plugins(entry_points=False, extra=[NoopPlugin()])
        data = {
            "name": "quiet",
            "agents": {"n": {"kind": "noop"}},
            "steps": {"a": {"uses": "n"}, "b": {"uses": "n", "needs": ["a"]}},
        }
        flow = cadenza.load_workflow_data(data, plugins=plugins).workflow
        result = await cadenza.run_workflow(flow, plugins=plugins)
        assert result.status == "succeeded", result


    trio.run(main)
    """
)


@pytest.mark.slow
def test_an_embedding_application_that_configures_no_logging_sees_no_output(
    tmp_path: Path,
) -> None:
    """A workflow run through the public API, logging unconfigured, writes no output at all."""
    script = tmp_path / "app.py"
    script.write_text(EMBEDDING_APP)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


def test_the_kernel_logger_drops_events_while_structlog_is_unconfigured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Under structlog's defaults (which print), a kernel logger prints nothing, bound or not."""
    structlog.reset_defaults()
    log = get_logger()
    log.warning("step_failed", step_id="a")
    bound = log.bind()
    assert not bound.is_enabled_for(50)
    bound.log(50, "run_finished")
    assert capsys.readouterr() == ("", "")


def test_the_kernel_logger_follows_structlog_once_the_application_configures_it() -> None:
    """Configuring structlog after the logger was made routes its events through it."""
    log = get_logger()
    structlog.reset_defaults()
    with capture_logs() as logs:
        log.warning("step_failed", step_id="a")
    assert logs == [{"event": "step_failed", "step_id": "a", "log_level": "warning"}]


def test_the_kernel_logger_is_named_after_its_module_for_stdlib_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through structlog's stdlib factory, a kernel module's events carry that module's name."""
    from cadenza._scheduler import _health

    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer()],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    with caplog.at_level(logging.WARNING):
        _health.log.warning("agent_health_changed", agent="a")
    assert [r.name for r in caplog.records] == ["cadenza._scheduler._health"]


def test_a_plugin_logger_is_silent_until_configured_and_named_after_the_plugin_module(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    """``cadenza.plugins.get_logger()`` in a plugin module behaves like the kernel's own logger."""
    plugin_module: dict[str, object] = {"__name__": "acme_cadenza.agent"}
    exec("from cadenza.plugins import get_logger\nlog = get_logger()", plugin_module)
    log = plugin_module["log"]
    structlog.reset_defaults()
    log.warning("acme_reply_truncated", agent="a")  # type: ignore[attr-defined]
    assert capsys.readouterr() == ("", "")

    structlog.configure(
        processors=[structlog.processors.KeyValueRenderer()],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    with caplog.at_level(logging.WARNING):
        log.warning("acme_reply_truncated", agent="a")  # type: ignore[attr-defined]
    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("acme_cadenza.agent", "agent='a' event='acme_reply_truncated'")
    ]
