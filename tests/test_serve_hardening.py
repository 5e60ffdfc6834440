"""The dashboard under load and hostile requests: caps, caches, strict parsing, odd paths.

Like tests/test_serve.py, every test runs a real hypercorn server on 127.0.0.1
(port 0) and talks to it with httpx, on trio, against a real SQLite journal.
"""

from __future__ import annotations

import os
import socket
import threading
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from click.testing import CliRunner

pytest.importorskip("hypercorn")
pytest.importorskip("starlette")

from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, WriteBatch
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import load_plugins
from cadenza._scheduler._runner import RunHandle, run_workflow
from cadenza._serve import serve_dashboard
from cadenza._serve._app import MAX_LIMIT
from cadenza.testing import Delay, ScriptedAgent

from .journal_helpers import read_only
from .scheduler_helpers import make_workflow, plugins_with
from .serve_helpers import (
    TOKEN,
    dashboard,
    finished_run,
    live_run,
    read_stream_ids,
    served,
    until,
)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'journal.db'}"


def raw(client: httpx.AsyncClient, target: bytes) -> httpx.URL:
    """``target`` sent as it is (httpx would otherwise normalise ``//host/`` and the like)."""
    return client.base_url.copy_with(raw_path=target)


async def test_bad_numbers_in_query_parameters_answer_400(url: str) -> None:
    """``limit`` and ``after`` that are not plain ASCII whole numbers in range get 400, not 500."""
    run_id = await finished_run(url)
    async with dashboard(url) as client:
        for limit in ["1e20", "\u00b2", "-5", "0", "+5", " 5", "5.0"]:
            response = await client.get("/api/runs", params={"limit": limit})
            assert response.status_code == 400, limit
            assert "limit must be" in response.json()["error"], limit
        events = f"/api/runs/{run_id}/events"
        for after in ["\u00b2", "9" * 5000, "99999999999999999999", "-2", "x"]:
            response = await client.get(events, params={"after": after})
            assert response.status_code == 400, after[:20]
            assert "after must be" in response.json()["error"], after[:20]
        response = await client.get(events, headers={"Last-Event-ID": "\u00b2".encode()})
        assert response.status_code == 400
        assert "Last-Event-ID must be" in response.json()["error"]


async def test_a_huge_limit_is_clamped_to_its_maximum(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``limit`` beyond the maximum (even thousands of digits) serves the maximum number of runs."""
    for _ in range(3):
        await finished_run(url)
    monkeypatch.setattr("cadenza._serve._app.MAX_LIMIT", 2)
    async with dashboard(url) as client:
        for limit in ["3", str(MAX_LIMIT + 1), "9" * 5000]:
            response = await client.get("/api/runs", params={"limit": limit})
            assert response.status_code == 200, limit[:20]
            assert len(response.json()) == 2, limit[:20]
        assert len((await client.get("/api/runs", params={"limit": "1"})).json()) == 1


async def test_crlf_nul_and_unicode_in_paths_answer_404_never_500(url: str) -> None:
    """Odd characters in a run or step id find nothing: 404 pages and JSON, no server error."""
    run_id = await finished_run(url)
    async with dashboard(url) as client:
        for odd in ["%0D%0A", "%E2%9C%93", "x%00y", "%FF", "a%0Db"]:
            paths = [f"/runs/{odd}", f"/api/runs/{odd}", f"/api/runs/{odd}/events",
                     f"/api/runs/{odd}/graph.svg", f"/runs/{run_id}/steps/{odd}",
                     f"/api/runs/{run_id}/steps/{odd}", f"/runs/{odd}/steps/{odd}"]  # fmt: skip
            for path in paths:
                response = await client.get(raw(client, path.encode()))
                assert response.status_code == 404, path


async def test_crlf_and_unicode_paths_get_an_encoded_login_redirect(url: str) -> None:
    """The ``?token=`` redirect percent-encodes the path instead of failing on it."""
    async with dashboard(url, token=TOKEN, host="0.0.0.0") as client:
        for path, location in [
            (b"/runs/%0D%0ASet-Cookie:%20x=1", "/runs/%0D%0ASet-Cookie:%20x=1"),
            (b"/runs/%E2%9C%93", "/runs/%E2%9C%93"),
        ]:
            client.cookies.clear()
            response = await client.get(raw(client, path + f"?token={TOKEN}".encode()))
            assert response.status_code == 303, path
            assert response.headers["location"] == location
            assert "x=1" not in response.headers.get_list("set-cookie")[0]


async def test_login_redirect_never_leads_to_another_host(url: str) -> None:
    """``//other.host/?token=`` and ``/\\other.host/?token=`` redirect to ``/``, not away."""
    async with dashboard(url, token=TOKEN, host="0.0.0.0") as client:
        for path in [b"//other.host/", b"/\\other.host/", b"//other.host/x?a=1&"]:
            client.cookies.clear()
            separator = b"&" if b"?" in path else b"?"
            target = path + separator + f"token={TOKEN}".encode()
            response = await client.get(raw(client, target))
            assert response.status_code == 303, path
            assert response.headers["location"] in ("/", "/?a=1"), path
        client.cookies.clear()
        kept = await client.get("/runs/x", params={"token": TOKEN, "a": "1"})
        assert kept.headers["location"] == "/runs/x?a=1"


async def test_a_step_whose_id_contains_a_slash_is_reachable(url: str) -> None:
    """Links percent-encode ``/`` in a step id, and its page and API answer, encoded or not."""
    run_id = await finished_run(url, {"build/linux": {}, "test": {"needs": ["build/linux"]}})
    async with dashboard(url) as client:
        page = (await client.get(f"/runs/{run_id}")).text
        assert f'href="/runs/{run_id}/steps/build%2Flinux"' in page
        for path in ["build%2Flinux", "build/linux"]:
            api = await client.get(f"/api/runs/{run_id}/steps/{path}")
            assert api.status_code == 200, path
            assert api.json()["step_id"] == "build/linux"
            step_page = await client.get(f"/runs/{run_id}/steps/{path}")
            assert step_page.status_code == 200, path
            assert "Step build/linux" in step_page.text


async def test_unknown_run_and_step_pages_answer_404(url: str) -> None:
    """A page for a run or step the journal lacks says so with status 404."""
    run_id = await finished_run(url)
    async with dashboard(url) as client:
        unknown_run = await client.get("/runs/no-such-run")
        assert unknown_run.status_code == 404
        assert "No run no-such-run in the journal" in unknown_run.text
        unknown_step = await client.get(f"/runs/{run_id}/steps/nope")
        assert unknown_step.status_code == 404
        assert f"No step nope in run {run_id}" in unknown_step.text
        assert (await client.get("/runs/no-such-run/steps/first")).status_code == 404


UNUSABLE_TOKENS = ["semi;colon-0123456789", "space inside 0123456789",
                   'quote"d-0123456789abc', "n\u00f6n-ascii-0123456789"]  # fmt: skip


@pytest.mark.parametrize("token", UNUSABLE_TOKENS)
def test_serve_refuses_a_token_that_could_never_log_in(tmp_path: Path, token: str) -> None:
    """A ``--token`` with ``;``, a space, a quote or non-ASCII exits 2 naming what to use."""
    from cadenza._cli._serve_cmd import serve

    result = CliRunner().invoke(serve, ["--token", token, "--store", f"sqlite:///{tmp_path}/j.db"])
    assert result.exit_code == 2
    assert "--token cannot be used as the dashboard token" in result.output
    assert "letters, digits and - . _ ~" in result.output
    assert token not in result.output
    assert not (tmp_path / "j.db").exists()  # refused before anything else happened


def test_serve_refuses_a_bad_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same check applies to ``$CADENZA_DASHBOARD_TOKEN``, and the message names it."""
    from cadenza._cli._serve_cmd import serve

    monkeypatch.setenv("CADENZA_DASHBOARD_TOKEN", "semi;colon-0123456789")
    result = CliRunner().invoke(serve, ["--store", f"sqlite:///{tmp_path}/j.db"])
    assert result.exit_code == 2
    assert "$CADENZA_DASHBOARD_TOKEN cannot be used" in result.output


async def test_serve_dashboard_refuses_an_unusable_token(url: str) -> None:
    """The library call refuses such a token too, before it listens."""
    store = SqliteStore(url)
    try:
        with trio.fail_after(10), pytest.raises(ValueError, match="cannot travel in a cookie"):
            await serve_dashboard(store, port=0, token="semi;colon-0123456789")
    finally:
        store.close()


async def test_streams_beyond_the_caps_get_429_and_slots_return_when_clients_leave(
    url: str,
) -> None:
    """Past the per-client or the total cap a stream gets 429; a closed stream frees its slot."""
    run_id = live_run(url)
    path = f"/api/runs/{run_id}/events"
    store = SqliteStore(url)
    try:
        async with (
            served(store, max_streams=3, max_streams_per_client=2) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as one,
            httpx.AsyncClient(  # a second client address: loopback has them all
                base_url=base, timeout=10,
                transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
            ) as two,
            httpx.AsyncClient(
                base_url=base, timeout=10,
                transport=httpx.AsyncHTTPTransport(local_address="127.0.0.3"),
            ) as three,
        ):  # fmt: skip

            async def open_streams() -> int:
                text = (await one.get("/metrics")).text
                line = next(x for x in text.splitlines() if x.startswith("cadenza_dashboard_"))
                return int(float(line.split()[-1]))

            async with one.stream("GET", path) as first, one.stream("GET", path) as second:
                assert first.status_code == second.status_code == 200
                refused = await one.get(path)
                assert refused.status_code == 429
                assert "127.0.0.1 already has 2 open" in refused.text
                assert "--max-streams-per-client" in refused.text
                async with two.stream("GET", path) as third:
                    assert third.status_code == 200
                    full = await three.get(path)
                    assert full.status_code == 429
                    assert "--max-streams" in full.text
                    assert await open_streams() == 3
            with trio.fail_after(10):
                while await open_streams():  # noqa: ASYNC110 - the server's count, over HTTP
                    await trio.sleep(0.02)
            async with one.stream("GET", path) as again:
                assert again.status_code == 200
    finally:
        store.close()


async def test_a_reconnect_with_last_event_id_gets_only_later_events(url: str) -> None:
    """Each event's ``id:`` is its seq; a reconnect sending it back (with the page's own
    ``?after=-1``) resumes after it instead of replaying the run."""
    run_id = await finished_run(url)
    path = f"/api/runs/{run_id}/events?after=-1"
    async with dashboard(url) as client:
        everything = await read_stream_ids(client, path)
        resumed = await read_stream_ids(client, path, headers={"Last-Event-ID": "3"})
    ids = [event_id for kind, _, event_id in everything if kind != "end"]
    assert ids == [str(data["seq"]) for kind, data, _ in everything if kind != "end"]
    assert [d["seq"] for k, d, _ in resumed if k != "end"] == [
        d["seq"] for k, d, _ in everything if k != "end" and d["seq"] > 3
    ]
    assert resumed[-1][0] == "end"


async def test_a_slow_history_replay_never_starves_pages_and_the_api(url: str) -> None:
    """Streams stuck reading a long history leave the pages' and API's threads free."""
    run_id = await finished_run(url)
    release, entered = threading.Event(), []

    class SlowHistory(SqliteStore):
        def read_events(self, run_id: str, *, after: int = -1) -> list[dict[str, Any]]:
            entered.append(run_id)
            release.wait(30)  # a replay of a very long run, in its worker thread
            return super().read_events(run_id, after=after)

    store = SlowHistory(url)
    try:
        async with (
            served(store) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as client,
            trio.open_nursery() as nursery,
        ):
            for _ in range(6):  # more than the four threads pages and the API share
                nursery.start_soon(partial(client.get, f"/api/runs/{run_id}/events", timeout=60))
            try:
                with trio.fail_after(10):
                    await until(lambda: len(entered) >= 2)  # replays under way, and stuck
                    runs = await client.get("/api/runs")
                    assert runs.status_code == 200
                    assert (await client.get("/")).status_code == 200
            finally:
                release.set()
    finally:
        release.set()
        store.close()


async def test_a_runs_graph_is_drawn_once_for_repeated_views(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run pages and graph.svg of one run, even concurrent, draw its DAG once between them."""
    import cadenza._graph._svg

    draws = 0
    real = cadenza._graph._svg.render_svg

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal draws
        draws += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(cadenza._graph._svg, "render_svg", counting)
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
    pages: list[str] = []
    async with dashboard(url, plugins=plugins) as client:

        async def view(path: str) -> None:
            response = await client.get(path)
            assert response.status_code == 200
            pages.append(response.text)

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(view, f"/runs/{result.run_id}")
        await view(f"/runs/{result.run_id}")
        await view(f"/api/runs/{result.run_id}/graph.svg")
    assert draws == 1
    assert all('<g class="node" data-step="greet"' in page for page in pages)


async def test_a_step_cancelled_mid_attempt_shows_its_attempt_cancelled(url: str) -> None:
    """The attempt in flight when its run was cancelled ends ``cancelled`` in API and page."""
    agent = ScriptedAgent("a", [Delay(30, then={"step": "slow"})])
    workflow = make_workflow({"slow": {}, "after": {"needs": ["slow"]}})
    store = SqliteStore(url)
    try:
        async with trio.open_nursery() as nursery:
            handle: RunHandle = await nursery.start(
                partial(run_workflow, workflow, plugins=plugins_with({"a": agent}), store=store)
            )
            with trio.fail_after(10):
                await until(lambda: agent.in_flight > 0)
            handle.cancel("stopped by the test")
    finally:
        store.close()
    async with dashboard(url) as client:
        step = (await client.get(f"/api/runs/{handle.run_id}/steps/slow")).json()
        page = (await client.get(f"/runs/{handle.run_id}/steps/slow")).text
    assert step["state"] == "cancelled"
    [attempt] = step["attempts_detail"]
    assert attempt["outcome"] == "cancelled"
    assert attempt["message"] == "stopped by the test"
    assert attempt["duration"] >= 0
    assert 'class="attempt outcome-cancelled"' in page
    assert "outcome-running" not in page


def test_serve_command_defaults_match_the_dashboards() -> None:
    """``cadenza serve`` repeats the stream caps (its web imports are optional): they agree."""
    from cadenza._cli import _serve_cmd
    from cadenza._serve import _streams

    assert _serve_cmd.MAX_STREAMS == _streams.MAX_STREAMS
    assert _serve_cmd.MAX_STREAMS_PER_CLIENT == _streams.MAX_STREAMS_PER_CLIENT


async def test_cancel_on_a_read_only_journal_says_why_instead_of_500(tmp_path: Path) -> None:
    """The cancel button over a read-only journal answers 503 naming the cause, not a 500."""
    journal = tmp_path / "journal.db"
    url = f"sqlite:///{journal}"
    running = RunRecord(
        run_id="r-running", workflow="wf", started_at=2e9, pid=os.getpid(),
        host=socket.gethostname(),
    )  # fmt: skip
    store = SqliteStore(url)
    try:
        store.write(WriteBatch(runs=[running]))
    finally:
        store.close()
    with read_only(tmp_path):
        async with dashboard(url) as client:
            response = await client.post("/api/runs/r-running/cancel", headers={"X-Cadenza": "1"})
    assert response.status_code == 503
    assert "is read-only" in response.json()["error"]
    assert "cancel needs write access" in response.json()["error"]
