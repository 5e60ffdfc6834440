"""The dashboard (``cadenza serve``): pages, API, live streams, cancel, auth, secrets, metrics.

Every test runs a real hypercorn server on 127.0.0.1 (port 0) in its nursery and
talks to it with httpx, on trio, against a real SQLite journal.
"""

from __future__ import annotations

import json
import logging
import re
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from click.testing import CliRunner

import cadenza

pytest.importorskip("hypercorn")
pytest.importorskip("starlette")

from cadenza._journal._sqlite import SqliteStore
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import load_plugins
from cadenza._scheduler._runner import RunHandle, run_workflow
from cadenza._serve import needs_token, serve_dashboard
from cadenza.testing import ScriptedAgent

from .scheduler_helpers import make_workflow, plugins_with
from .serve_helpers import TOKEN, dashboard, finished_run, read_stream, sleeper, until

SECRET = "sk-serve-9f8e7d6c5b4a"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


async def test_runs_list_as_json_and_html_with_filters(url: str) -> None:
    run_id = await finished_run(url)
    async with dashboard(url) as client:
        runs = (await client.get("/api/runs")).json()
        assert [r["run_id"] for r in runs] == [run_id]
        assert runs[0]["status"] == "succeeded"
        assert runs[0]["counts"]["succeeded"] == 2
        assert (await client.get("/api/runs", params={"status": "failed"})).json() == []
        assert (await client.get("/api/runs", params={"workflow": "other"})).json() == []
        assert (await client.get("/api/runs", params={"status": "bogus"})).status_code == 400
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert run_id in page.text
        assert run_id not in (await client.get("/", params={"status": "failed"})).text


async def test_run_and_step_pages_show_steps_attempts_and_the_graph(url: str) -> None:
    text = """\
agents:
  t: {kind: template, options: {output: "hello {name}"}}
steps:
  greet: {uses: t, with: {name: world}}
  bye: {uses: t, needs: [greet], with: {name: moon}}
"""
    plugins = load_plugins(entry_points=False)
    loaded = load_workflow_text(text, plugins=plugins)
    store = SqliteStore(url)
    try:
        result = await run_workflow(loaded.workflow, plugins=plugins, store=store)
    finally:
        store.close()
    run_id = result.run_id
    async with dashboard(url, plugins=plugins) as client:
        page = (await client.get(f"/runs/{run_id}")).text
        assert 'data-step="greet"' in page
        assert 'data-step="bye"' in page
        assert '<g class="node" data-step="greet"' in page  # the DAG, drawn from the source
        run = (await client.get(f"/api/runs/{run_id}")).json()
        assert run["status"] == "succeeded"
        assert run["steps"]["greet"]["state"] == "succeeded"
        assert run["steps"]["greet"]["output"] == "hello world"
        svg = await client.get(f"/api/runs/{run_id}/graph.svg")
        assert svg.headers["content-type"].startswith("image/svg+xml")
        step = (await client.get(f"/api/runs/{run_id}/steps/bye")).json()
        assert step["state"] == "succeeded"
        assert step["attempts_detail"][0]["agent"] == "t"
        assert step["attempts_detail"][0]["outcome"] == "succeeded"
        assert "hello moon" in (await client.get(f"/runs/{run_id}/steps/bye")).text
        assert (await client.get(f"/api/runs/{run_id}/steps/nope")).status_code == 404
        assert (await client.get("/api/runs/nope")).status_code == 404
        for asset in ("/static/dashboard.js", "/static/dashboard.css"):
            assert (await client.get(asset)).status_code == 200


async def test_step_detail_shows_failed_attempts_and_retries(url: str) -> None:
    calls = 0

    async def flaky(request: cadenza.AgentRequest) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise cadenza.RetryableError("try again")
        return "ok"

    agent = ScriptedAgent("a", flaky)
    workflow = make_workflow({"s": {"retry": {"max_attempts": 3, "backoff": 0.01}}})
    store = SqliteStore(url)
    try:
        result = await run_workflow(workflow, plugins=plugins_with({"a": agent}), store=store)
    finally:
        store.close()
    async with dashboard(url) as client:
        step = (await client.get(f"/api/runs/{result.run_id}/steps/s")).json()
    assert [a["outcome"] for a in step["attempts_detail"]] == ["failed", "succeeded"]
    assert step["attempts_detail"][0]["error_type"] == "RetryableError"
    assert step["attempts_detail"][0]["retry_in"] is not None


async def test_stream_delivers_a_live_runs_events_and_ends_after_run_finished(url: str) -> None:
    agent = ScriptedAgent("a", sleeper(0.3))
    workflow = make_workflow({"first": {}, "second": {"needs": ["first"]}, "third": {}})
    run_store = SqliteStore(url)
    try:
        async with dashboard(url) as client, trio.open_nursery() as nursery:
            handle: RunHandle = await nursery.start(
                partial(run_workflow, workflow, plugins=plugins_with({"a": agent}), store=run_store)
            )
            with trio.fail_after(10):
                await until(lambda: run_store.get_run(handle.run_id) is not None)
                received = await read_stream(client, f"/api/runs/{handle.run_id}/events")
    finally:
        run_store.close()
    kinds = [k for k, _ in received]
    assert kinds[-2:] == ["run_finished", "end"]
    assert received[-1][1] == {"reason": "finished"}
    assert kinds[0] == "run_started"
    succeeded = {d["step_id"] for k, d in received if k == "step_succeeded"}
    assert succeeded == {"first", "second", "third"}
    seqs = [d["seq"] for k, d in received if k != "end"]
    assert seqs == sorted(seqs) == list(range(len(seqs)))


async def test_stream_of_a_finished_run_replays_it_and_resumes_after_a_seq(url: str) -> None:
    run_id = await finished_run(url)
    async with dashboard(url) as client:
        everything = await read_stream(client, f"/api/runs/{run_id}/events")
        later = await read_stream(client, f"/api/runs/{run_id}/events?after=3")
    assert everything[-2][0] == "run_finished"
    assert [d["seq"] for _, d in later[:-1]] == [d["seq"] for _, d in everything[4:-1]]


async def test_cancel_button_stops_a_running_run(url: str) -> None:
    agent = ScriptedAgent("a", sleeper(30))
    workflow = make_workflow({"slow": {}, "after": {"needs": ["slow"]}})
    run_store = SqliteStore(url)
    try:
        async with dashboard(url) as client, trio.open_nursery() as nursery:
            outcome: dict[str, Any] = {}

            async def run(task_status: trio.TaskStatus[RunHandle]) -> None:
                outcome["result"] = await run_workflow(
                    workflow, plugins=plugins_with({"a": agent}), store=run_store,
                    task_status=task_status,
                )  # fmt: skip

            handle: RunHandle = await nursery.start(run)
            path = f"/api/runs/{handle.run_id}/cancel"
            with trio.fail_after(10):
                await until(lambda: agent.in_flight > 0)
                assert (await client.post(path)).status_code == 403  # no X-Cadenza header
                response = await client.post(path, headers={"X-Cadenza": "1"})
                assert response.json()["cancel_requested"] is True
                flagged = (await client.get(f"/api/runs/{handle.run_id}")).json()
                assert flagged["cancel_requested"] is True
                received = await read_stream(client, f"/api/runs/{handle.run_id}/events")
            assert outcome["result"].status == "cancelled"
            assert received[-2][1]["status"] == "cancelled"
            again = await client.post(path, headers={"X-Cadenza": "1"})
            assert again.status_code == 409
            assert again.json()["status"] == "cancelled"
    finally:
        run_store.close()


async def test_without_a_token_only_loopback_host_names_are_served(url: str) -> None:
    async with dashboard(url) as client:
        assert (await client.get("/api/runs")).status_code == 200
        assert (await client.get("/api/runs", headers={"Host": "localhost"})).status_code == 200
        evil = await client.get("/api/runs", headers={"Host": "evil.example:8787"})
        assert evil.status_code == 403


def test_binding_beyond_loopback_needs_a_token() -> None:
    assert needs_token("0.0.0.0")
    assert needs_token("192.168.1.4")
    assert not needs_token("127.0.0.1")
    assert not needs_token("::1")
    assert not needs_token("localhost")


async def test_non_loopback_without_a_token_is_refused(url: str) -> None:
    store = SqliteStore(url)
    try:
        with pytest.raises(ValueError, match="needs a token"):
            await serve_dashboard(store, host="0.0.0.0", port=0)
    finally:
        store.close()


async def test_token_guards_pages_api_streams_and_metrics(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    run_id = await finished_run(url)
    paths = ["/", f"/runs/{run_id}", "/api/runs", f"/api/runs/{run_id}",
             f"/api/runs/{run_id}/events", "/metrics", "/static/dashboard.js"]  # fmt: skip
    async with dashboard(url, token=TOKEN, host="0.0.0.0") as client:
        for path in paths:
            assert (await client.get(path)).status_code == 401, path
            wrong = {"Authorization": "Bearer wrong-token-0123456789"}
            assert (await client.get(path, headers=wrong)).status_code == 401, path
            assert (await client.get(path, params={"token": "nope"})).status_code == 401, path
            right = {"Authorization": f"Bearer {TOKEN}"}
            assert (await client.get(path, headers=right)).status_code == 200, path
        # A browser's first visit: ?token= sets an HttpOnly cookie and drops it from the URL.
        first = await client.get("/", params={"token": TOKEN, "status": "succeeded"})
        assert first.status_code == 303
        assert first.headers["location"] == "/?status=succeeded"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert (await client.get("/api/runs")).status_code == 200  # the cookie now
        assert run_id in (await client.get("/")).text
        received = await read_stream(client, f"/api/runs/{run_id}/events")
        assert received[-1][0] == "end"
    # The client's own logs (httpx prints request URLs) are not the server's: leave them out.
    server_logs = [
        r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))
    ]
    assert server_logs  # the server did log (hypercorn's "Running on ...")
    assert not [m for m in server_logs if TOKEN in m]


async def test_no_secret_reaches_any_page_stream_or_metric(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = """\
agents:
  keyed: {kind: template, options: {output: "key ${SERVE_API_KEY} for {name}"}}
steps:
  use: {uses: keyed, with: {name: x}}
  fail: {uses: keyed, with: {}}
"""
    (tmp_path / "wf.yaml").write_text(text)
    monkeypatch.setenv("SERVE_API_KEY", SECRET)
    plugins = load_plugins(entry_points=False)
    loaded = load_workflow_text(text, plugins=plugins, filename=str(tmp_path / "wf.yaml"))
    store = SqliteStore(url)
    try:
        result = await run_workflow(loaded.workflow, plugins=plugins, store=store)
    finally:
        store.close()
    run_id = result.run_id
    async with dashboard(url, plugins=plugins) as client:
        bodies = []
        for path in ["/", "/api/runs", f"/runs/{run_id}", f"/api/runs/{run_id}",
                     f"/api/runs/{run_id}/graph.svg", f"/api/runs/{run_id}/steps/use",
                     f"/runs/{run_id}/steps/use", f"/api/runs/{run_id}/steps/fail",
                     f"/runs/{run_id}/steps/fail", "/metrics"]:  # fmt: skip
            response = await client.get(path)
            assert response.status_code == 200, path
            bodies.append(response.text)
        bodies.append(json.dumps(await read_stream(client, f"/api/runs/{run_id}/events")))
    everything = "\n".join(bodies)
    assert "key *** for x" in everything  # the output is shown, redacted
    assert SECRET not in everything


LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? '
    r"(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$"
)


def parse_metrics(text: str) -> dict[str, float]:
    """``name{labels}`` -> value; asserts every line is valid exposition format."""
    values: dict[str, float] = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram")
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        assert LINE.match(line), line
        key, value = line.rsplit(" ", 1)
        family = re.sub(r"(_bucket|_sum|_count)$", "", key.split("{")[0])
        assert family in types, line
        values[key] = float(value)
    return values


async def test_metrics_count_steps_attempts_retries_and_latency(url: str) -> None:
    calls = 0

    async def behaviour(request: cadenza.AgentRequest) -> Any:
        nonlocal calls
        calls += 1
        if request.step_id == "flaky" and request.attempt == 1:
            raise cadenza.RetryableError("again")
        if request.step_id == "broken":
            raise cadenza.PermanentError("no")
        return "ok"

    agent = ScriptedAgent("a", behaviour)
    workflow = make_workflow(
        {
            "fine": {},
            "flaky": {"retry": {"max_attempts": 2, "backoff": 0.01}},
            "broken": {},
            "after": {"needs": ["broken"]},
        }
    )
    store = SqliteStore(url)
    try:
        await run_workflow(workflow, plugins=plugins_with({"a": agent}), store=store)
    finally:
        store.close()
    async with dashboard(url) as client:
        response = await client.get("/metrics")
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        values = parse_metrics(response.text)
        again = parse_metrics((await client.get("/metrics")).text)
    assert values['cadenza_runs{status="failed"}'] == 1
    assert values['cadenza_steps{state="succeeded"}'] == 2
    assert values['cadenza_steps{state="failed"}'] == 1
    assert values['cadenza_steps{state="skipped"}'] == 1
    assert values['cadenza_attempts_total{agent="a"}'] == 4
    assert values['cadenza_retries_total{agent="a"}'] == 1
    assert values['cadenza_attempt_failures_total{agent="a",error_type="RetryableError"}'] == 1
    ok = 'agent="a",capability="",outcome="succeeded"'
    assert values[f"cadenza_attempt_duration_seconds_count{{{ok}}}"] == 2
    assert values[f'cadenza_attempt_duration_seconds_bucket{{{ok},le="+Inf"}}'] == 2
    assert values['cadenza_queue_wait_seconds_count{agent="a"}'] == 4
    assert again == values  # nothing new: counters do not double-count a second scrape


async def test_server_stops_cleanly_with_a_stream_open(url: str) -> None:
    agent = ScriptedAgent("a", sleeper(30))
    workflow = make_workflow({"slow": {}})
    run_store = SqliteStore(url)
    try:
        with trio.fail_after(10):
            async with trio.open_nursery() as outer:
                handle: RunHandle = await outer.start(
                    partial(run_workflow, workflow, plugins=plugins_with({"a": agent}),
                            store=run_store)
                )  # fmt: skip
                # A graceful stop: the open stream gets `end` and the server returns.
                store, stop = SqliteStore(url), trio.Event()
                async with trio.open_nursery() as server:
                    urls = await server.start(partial(serve_dashboard, store, port=0, stop=stop))
                    async with (
                        httpx.AsyncClient(base_url=urls[0]) as client,
                        client.stream("GET", f"/api/runs/{handle.run_id}/events") as r,
                    ):
                        lines = r.aiter_lines()
                        assert (await anext(lines)).startswith("retry:")
                        stop.set()
                        rest = [line async for line in lines]
                    assert "event: end" in rest
                    assert 'data: {"reason": "stopping"}' in rest
                store.close()
                # And cancelling a nursery with a stream open does not hang either.
                async with trio.open_nursery() as inner:

                    async def watch() -> None:
                        async with (
                            dashboard(url) as client,
                            client.stream("GET", f"/api/runs/{handle.run_id}/events") as r,
                        ):
                            async for _ in r.aiter_lines():
                                pass

                    inner.start_soon(watch)
                    await trio.sleep(0.5)
                    inner.cancel_scope.cancel()
                handle.cancel("test over")
    finally:
        run_store.close()


def test_serve_command_refuses_a_short_token(tmp_path: Path) -> None:
    from cadenza._cli._serve_cmd import serve

    result = CliRunner().invoke(
        serve, ["--token", "short", "--store", f"sqlite:///{tmp_path}/j.db"]
    )
    assert result.exit_code == 2
    assert "at least 16 characters" in result.output


@pytest.mark.slow
def test_serve_command_prints_a_generated_token_once_and_stops_on_sigint(tmp_path: Path) -> None:
    """`cadenza serve --host 0.0.0.0` makes up a token, demands it, and exits 0 on Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = "from cadenza._cli._serve_cmd import serve; serve()"
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_DASHBOARD_TOKEN"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script, "--host", "0.0.0.0", "--port", "0",
         "--store", f"sqlite:///{tmp_path / 'journal.db'}"],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any(line.startswith("dashboard on ") for line in lines):
            assert time.monotonic() < deadline, lines
            lines.append(proc.stderr.readline())
        token = next(line.split()[-1] for line in lines if "token:" in line)
        address = next(line.split()[2] for line in lines if line.startswith("dashboard on "))
        base = address.replace("0.0.0.0", "127.0.0.1").rstrip("/")
        assert httpx.get(f"{base}/api/runs").status_code == 401
        authorized = httpx.get(f"{base}/api/runs", headers={"Authorization": f"Bearer {token}"})
        assert authorized.status_code == 200
        assert authorized.json() == []
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert sum(token in line for line in [*lines, rest]) == 1  # printed once, never logged


async def test_step_detail_shows_the_inputs_its_agent_was_given(autojump_clock: Any) -> None:
    """step_ready carries the rendered with:, secrets redacted; the step panel shows it."""
    from cadenza._serve._views import step_detail
    from cadenza.testing import run_captured

    captured = await run_captured(
        """
name: inputs
inputs: {topic: trio}
agents:
  w: {kind: template, options: {output: "note on {topic} for {who}"}}
steps:
  draft: {uses: w, with: {topic: "${{ inputs.topic }}", who: "${{ 'team ' + inputs.topic }}"}}
"""
    )
    events = [e.to_dict() for e in captured.events]
    detail = step_detail(events, "draft")
    assert detail is not None
    assert detail["inputs"] == {"topic": "trio", "who": "team trio"}
