"""The openai agent against llmock, an independent chaos server that judges its clients.

llmock (``llmock serve``) answers like OpenAI, breaks on demand (faults
queued through its ``/_llmock/scenario`` API: HTTP errors with or without
``Retry-After``, streams dropped, cut short, corrupted or stalled), enforces
a real requests-per-minute quota (``--rpm``: 429 with the true wait, and
``x-ratelimit-*`` headers) and keeps a journal of every attempt, from which
it gives a verdict on the client: did it wait as long as asked, back off,
retry what is retryable and only that, refuse a truncated stream. Every test
here asserts that verdict passes, warnings included (``--strict``), besides
what the run itself reports.
"""

from __future__ import annotations

import itertools
import json
import os
import pathlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import attrs
import httpx
import pytest
import structlog.testing
import trio
from compat_servers import Server, assert_priced, compat_workflow, require, started
from openai_workflows import API_KEY, ENV

import cadenza
from cadenza.testing import CapturedRun, run_captured

CHAT = "/v1/chat/completions"
TEXT = (
    "Hello from llmock: this scripted reply is streamed one word at a time, ten milliseconds "
    "apart, so that a client which stops reading in the middle of it is seen to stop."
)
PRICE = "price: {input_per_1k: 0.5, output_per_1k: 1.5}"
RETRY = "{max_attempts: 3, backoff: 200ms, jitter: none}"
"""A real backoff, not the few milliseconds of the other tests (llmock judges the waits)."""

CHUNK_DELAY_MS = 10
"""llmock's pause between streamed chunks. It judges a corrupt chunk "ignored" when the
stream still ran to its end; without a pause it sends a short reply whole into the
socket before the agent has read the corrupt chunk, stopped and closed the connection.
With it, TEXT's ~30 chunks take ~0.3 s to send: time enough to be seen stopping."""


@pytest.fixture(scope="module")
def llmock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One llmock server for the module, pacing its streams, without quotas; each test resets it."""
    require("llmock")
    folder = tmp_path_factory.mktemp("llmock")
    args = ["--log-level", "warning", "--stream-chunk-delay-ms", str(CHUNK_DELAY_MS)]
    with started("llmock", args, folder=folder, ready_path="/health") as server:
        yield server


@pytest.fixture(scope="module")
def llmock_rpm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An llmock server enforcing 60 requests per minute per API key (one more each second)."""
    require("llmock")
    folder = tmp_path_factory.mktemp("llmock-rpm")
    args = ["--log-level", "warning", "--rpm", "60"]
    with started("llmock", args, folder=folder, ready_path="/health") as server:
        yield server


@attrs.define
class LLMock:
    """One test's handle on a server: queue faults, read the journal and the verdict."""

    server: Server
    client: httpx.AsyncClient

    async def reset(self) -> None:
        """Forget requests, queued behaviours and spent quota."""
        (await self.client.post("/_llmock/reset")).raise_for_status()

    async def clear_journal(self) -> None:
        """Forget the requests so far (the quota spent stays spent)."""
        (await self.client.delete("/_llmock/requests")).raise_for_status()

    async def queue(self, *behaviors: dict[str, Any]) -> None:
        """Queue behaviours for chat requests (``/models`` and others never consume them)."""
        scoped = [{**b, "match": {**b.get("match", {}), "path": CHAT}} for b in behaviors]
        response = await self.client.post("/_llmock/scenario", json={"behaviors": scoped})
        response.raise_for_status()

    async def requests(self) -> list[dict[str, Any]]:
        """Every request llmock journaled since the last reset, oldest first."""
        response = await self.client.get("/_llmock/requests")
        records: list[dict[str, Any]] = response.json()["requests"]
        return records

    async def verdict(self) -> dict[str, Any]:
        verdict: dict[str, Any] = (await self.client.get("/_llmock/verdict")).json()
        return verdict

    async def assert_verdict_passes(self) -> dict[str, Any]:
        """llmock's verdict on the client: passed, with no warning either (its --strict)."""
        verdict = await self.verdict()
        text = (await self.client.get("/_llmock/verdict", params={"format": "text"})).text
        assert verdict["passed"], text
        assert verdict["warnings"] == 0, text
        return verdict

    async def drain(self) -> None:
        """Spend the API key's request quota until llmock refuses one, then clear the journal."""
        headers = {"Authorization": f"Bearer {API_KEY}"}
        body = {"model": "compat-model", "messages": [{"role": "user", "content": "drain"}]}
        for _ in range(500):
            response = await self.client.post(CHAT, json=body, headers=headers)
            if response.status_code == 429:
                break
        else:
            raise AssertionError("llmock never refused a request: is --rpm set?")
        await self.clear_journal()


@pytest.fixture
async def llmock(llmock_server: Server) -> AsyncIterator[LLMock]:
    """The module's llmock server, reset for this test."""
    async with httpx.AsyncClient(base_url=llmock_server.root, timeout=30) as client:
        handle = LLMock(llmock_server, client)
        await handle.reset()
        yield handle


@pytest.fixture
async def llmock_rpm(llmock_rpm_server: Server) -> AsyncIterator[LLMock]:
    """The module's rate-limited llmock server, reset (quota full) for this test."""
    async with httpx.AsyncClient(base_url=llmock_rpm_server.root, timeout=30) as client:
        handle = LLMock(llmock_rpm_server, client)
        await handle.reset()
        yield handle


async def run(
    llmock: LLMock, plugins: cadenza.plugins.Plugins, prompt: str = "Say hello.", **kwargs: Any
) -> CapturedRun:
    kwargs.setdefault("retry", RETRY)
    text = compat_workflow(llmock.server.base_url, prompt, **kwargs)
    with trio.fail_after(60):
        return await run_captured(text, plugins=plugins, environ=ENV)


def reply(times: int | None = None) -> dict[str, Any]:
    """The scripted answer, for every request by default (a retry must get it too)."""
    return {"type": "reply", "text": TEXT, "times": times}


@pytest.mark.parametrize("stream", [False, True])
async def test_reply_with_server_usage_and_cost(
    llmock: LLMock, plugins: cadenza.plugins.Plugins, stream: bool
) -> None:
    """Whole and streamed replies: the text, llmock's own usage (no estimate), priced."""
    await llmock.queue(reply())
    with structlog.testing.capture_logs() as logs:
        captured = await run(
            llmock, plugins, options=f", stream: {str(stream).lower()}", agent=PRICE
        )
    assert captured.result.status == "succeeded", captured.result.error
    assert captured.result.steps["write"].output == TEXT
    assert_priced(captured)
    assert not [e for e in logs if e["event"] == "openai_usage_estimated"]
    (record,) = await llmock.requests()
    assert (record["status"], record["stream"], record["completed"]) == (200, stream, True)
    if stream:
        assert record["body"]["stream_options"] == {"include_usage": True}
    await llmock.assert_verdict_passes()


@pytest.mark.parametrize(
    ("fault", "stream", "message"),
    [
        (
            {"type": "fail", "status": 429, "retry_after": 0.3},
            False,
            "HTTP 429: Rate limit exceeded.",
        ),
        ({"type": "fail", "status": 500, "retry_after": 0.1}, False, "HTTP 500"),
        ({"type": "fail", "status": 503}, True, "HTTP 503"),  # llmock's default Retry-After: 1s
        (
            {"type": "stream_fault", "kind": "disconnect", "after_chunks": 2},
            True,
            "the stream was cut after",
        ),
        (
            {"type": "stream_fault", "kind": "truncate", "after_chunks": 2},
            True,
            "without a finish_reason or [DONE]",
        ),
        (
            {"type": "stream_fault", "kind": "malformed", "after_chunks": 2},
            True,
            "a stream chunk is not valid JSON",
        ),
    ],
    ids=["429", "500", "503", "disconnect", "truncate", "malformed"],
)
async def test_transient_faults_are_retried_as_llmock_expects(
    llmock: LLMock,
    plugins: cadenza.plugins.Plugins,
    fault: dict[str, Any],
    stream: bool,
    message: str,
) -> None:
    """Each fault fails one attempt retryably; the retry gets the answer; the verdict passes."""
    await llmock.queue(fault, reply())
    captured = await run(llmock, plugins, options=f", stream: {str(stream).lower()}")
    assert captured.result.status == "succeeded", captured.result.error
    assert captured.result.steps["write"].output == TEXT
    (failed,) = captured.of("attempt_failed")
    assert failed.retryable
    assert message in failed.message
    first, second = await llmock.requests()
    assert first["fault"] is not None
    assert second["fault"] is None
    assert first["fingerprint"] == second["fingerprint"]  # the retry resent the same request
    if first["retry_after"] is not None:
        assert failed.retry_in >= first["retry_after"] - 1e-3
        assert second["started_at"] - first["ended_at"] >= first["retry_after"] * 0.95
    verdict = await llmock.assert_verdict_passes()
    assert (verdict["calls"], verdict["attempts"], verdict["faults_injected"]) == (1, 2, 1)


async def test_stalled_stream_times_out_and_is_retried(
    llmock: LLMock, plugins: cadenza.plugins.Plugins
) -> None:
    """A stream that stalls longer than the agent's timeout fails the attempt; the retry answers."""
    await llmock.queue(
        {"type": "stream_fault", "kind": "stall", "after_chunks": 2, "stall_seconds": 5},
        reply(),
    )
    captured = await run(llmock, plugins, options=", timeout: 300ms")
    assert captured.result.status == "succeeded", captured.result.error
    (failed,) = captured.of("attempt_failed")
    assert failed.error_type == "AgentTimeoutError"
    assert "nothing received within timeout=0.3s" in failed.message
    first, _ = await llmock.requests()
    assert first["stall_waited"] is not None
    assert first["stall_waited"] < 1.0
    await llmock.assert_verdict_passes()  # no "no_read_timeout" warning


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            {"type": "fail", "status": 400, "code": "context_length_exceeded"},
            "HTTP 400",
        ),
        ({"type": "fail", "status": 401}, "HTTP 401"),
        ({"type": "fail", "status": 404}, "Check base_url"),
    ],
    ids=["400", "401", "404"],
)
async def test_client_errors_are_not_retried(
    llmock: LLMock, plugins: cadenza.plugins.Plugins, fault: dict[str, Any], message: str
) -> None:
    """400, 401 and 404 fail the step at once, saying why; llmock sees no retry of them."""
    await llmock.queue(fault)
    captured = await run(llmock, plugins)
    assert captured.result.status == "failed"
    (failed,) = captured.of("step_failed")
    assert message in failed.message
    assert API_KEY not in failed.message
    (record,) = await llmock.requests()
    assert record["status"] == fault["status"]
    await llmock.assert_verdict_passes()  # no "retried_non_retryable"


async def test_health_check_passes_against_llmock(
    llmock: LLMock, plugins: cadenza.plugins.Plugins
) -> None:
    """llmock lists its models on /v1/models: a health_check: keeps the agent healthy."""
    await llmock.queue(reply())
    captured = await run(llmock, plugins, agent="health_check: {interval: 50ms}")
    assert captured.result.status == "succeeded", captured.result.error
    assert not captured.of("agent_health_changed")


async def test_server_quota_tighter_than_ours_waits_the_true_wait(
    llmock_rpm: LLMock, plugins: cadenza.plugins.Plugins
) -> None:
    """The key's quota spent, llmock answers 429 with the true wait; the step waits, succeeds."""
    await llmock_rpm.drain()
    captured = await run(llmock_rpm, plugins, retry="{max_attempts: 1, backoff: 10ms}")
    assert captured.result.status == "succeeded", captured.result.error
    failed = captured.of("attempt_failed")
    assert failed, "llmock's quota let the call through: the drain did not spend it"
    records = await llmock_rpm.requests()
    assert [r["status"] for r in records] == [429] * len(failed) + [200]
    for event, record, after in zip(failed, records, records[1:], strict=False):
        assert record["fault"] == "ratelimit:requests"
        assert "Rate limit reached for requests per minute" in event.message
        assert event.retry_in >= record["retry_after"] - 1e-3
        assert after["started_at"] - record["ended_at"] >= record["retry_after"] * 0.95
    await llmock_rpm.assert_verdict_passes()


async def test_our_rate_limit_below_the_servers_avoids_its_429s(
    llmock_rpm: LLMock, plugins: cadenza.plugins.Plugins
) -> None:
    """Our requests_per_minute under llmock's quota: calls wait for ours; llmock refuses none."""
    await llmock_rpm.drain()
    await trio.sleep(1.2)  # llmock refills one request per second: room for exactly one call
    captured = await run(
        llmock_rpm,
        plugins,
        agent="rate_limit: {requests_per_minute: 40}",  # one call per 1.5 s
        retry="{max_attempts: 1, backoff: 10ms, max_rate_limited: 0}",
        steps=3,
    )
    assert captured.result.status == "succeeded", captured.result.error
    assert not captured.of("attempt_failed")
    started = captured.of("attempt_started")
    assert len(started) == 3
    assert sorted(e.waited_for for e in started) == ["", "rate_limit", "rate_limit"]
    records = await llmock_rpm.requests()
    assert [r["status"] for r in records] == [200, 200, 200]
    starts = sorted(r["started_at"] for r in records)
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(starts))
    await llmock_rpm.assert_verdict_passes()


def llmock_report(server: Server) -> subprocess.CompletedProcess[str]:
    """``llmock report --strict`` on the server, as CI would run it."""
    command = [sys.executable, "-m", "llmock.cli", "report", "--url", server.root, "--strict"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


async def test_llmock_report_passes_a_run_through_every_fault(
    llmock: LLMock, plugins: cadenza.plugins.Plugins
) -> None:
    """Five steps meet a 429, a 503, a dropped, a cut and a corrupt stream: llmock report passes."""
    await llmock.queue(
        {"type": "fail", "status": 429, "retry_after": 0.2},
        {"type": "fail", "status": 503, "retry_after": 0.1},
        {"type": "stream_fault", "kind": "disconnect", "after_chunks": 1},
        {"type": "stream_fault", "kind": "truncate", "after_chunks": 3},
        {"type": "stream_fault", "kind": "malformed", "after_chunks": 2},
        reply(),
    )
    captured = await run(llmock, plugins, steps=5)
    assert captured.result.status == "succeeded", captured.result.error
    assert all(step.output == TEXT for step in captured.result.steps.values())
    assert len(captured.of("attempt_failed")) == 5
    report = await trio.to_thread.run_sync(llmock_report, llmock.server)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "PASS" in report.stdout
    assert "5 fault(s) injected" in report.stdout


async def test_llmock_report_fails_a_client_that_ignores_retry_after(llmock: LLMock) -> None:
    """The verdict is not vacuous: retrying a 429 at once, against its Retry-After, fails it."""
    await llmock.queue({"type": "fail", "status": 429, "retry_after": 5})
    body = {"model": "compat-model", "messages": [{"role": "user", "content": "impatient"}]}
    assert (await llmock.client.post(CHAT, json=body)).status_code == 429
    assert (await llmock.client.post(CHAT, json=body)).status_code == 200
    report = await trio.to_thread.run_sync(llmock_report, llmock.server)
    assert report.returncode == 1
    assert "retry_after_ignored" in report.stdout


async def test_cadenza_run_cli_against_llmock(llmock: LLMock, tmp_path: pathlib.Path) -> None:
    """`cadenza run --json` (the plugin from its entry point): faults retried, verdict passes."""
    await llmock.queue(
        {"type": "fail", "status": 429, "retry_after": 0.2},
        {"type": "stream_fault", "kind": "disconnect", "after_chunks": 2},
        reply(),
    )
    text = compat_workflow(llmock.server.base_url, "Say hello.", agent=PRICE, retry=RETRY, steps=2)
    (tmp_path / "compat.yaml").write_text(text)
    command = [sys.executable, "-m", "cadenza", "run", "compat.yaml", "--json", "--no-progress"]
    env = {**os.environ, **ENV}
    done = await trio.run_process(command, cwd=tmp_path, env=env, capture_stdout=True, check=False)
    assert done.returncode == 0, done.stdout.decode()
    summary = json.loads(done.stdout)
    assert summary["status"] == "succeeded"
    steps = summary["steps"]
    assert [steps[s]["output"] for s in ("write", "write_2")] == [TEXT, TEXT]
    assert sum(steps[s]["attempts"] for s in ("write", "write_2")) == 4  # two faults, two retries
    assert summary["cost"]["tokens"] > 0
    assert summary["cost"]["usd"] > 0
    await llmock.assert_verdict_passes()
