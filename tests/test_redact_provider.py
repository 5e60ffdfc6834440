"""A provider echoing the API key, transformed, leaks it to no output channel.

The exact key never leaked; JSON-escaped, URL-encoded, re-cased and base64
copies of it did. Here a loopback provider answers each step with one such
copy, in its output (2xx) or in its error body (400), and the test reads every
channel a user sees: ``cadenza run``'s stdout and stderr, the SQLite journal
file (every table), ``cadenza status`` (text and ``--json``) and the dashboard's
JSON API.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from cadenza._journal._sqlite import SqliteStore
from cadenza._serve import serve_dashboard
from cadenza.testing import Ok, SeedAgentServer, SeedCall, Status, open_seed_agent_server

from .redact_helpers import transformed

pytestmark = pytest.mark.slow

KEY = "sk-echo/0123+4567=abcdefXYZ"  # '/', '+' and '=' make every encoding differ
FORMS = list(transformed(KEY).items())


def provider(call: SeedCall) -> Any:
    """Step ``ok_N`` gets form N as its output; ``err_N`` a 400 quoting form N."""
    data = call.json["data"]
    _, form = FORMS[data["form"]]
    if data.get("fail"):
        return Status(400, body=f"bad request for key {form}")
    return Ok({"output": f"your key is {form}"})


def workflow(server: SeedAgentServer) -> str:
    steps = "".join(
        f"  ok_{i}: {{uses: provider, with: {{form: {i}}}}}\n"
        f"  err_{i}: {{uses: provider, with: {{form: {i}, fail: true}}}}\n"
        for i in range(len(FORMS))
    )
    return (
        "name: echoing\n"
        "agents:\n"
        "  provider:\n"
        "    kind: http\n"
        f'    options: {{endpoint: "{server.url}/v1/tasks", api_key: "${{ECHO_KEY}}"}}\n'
        f"steps:\n{steps}"
    )


async def cadenza(*args: str, cwd: Path) -> tuple[int, str]:
    done = await trio.run_process(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        env={**os.environ, "ECHO_KEY": KEY},
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    return done.returncode, (done.stdout + done.stderr).decode()


def journal_rows(path: Path) -> str:
    """Every row of every table of the journal file, as text."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(str(row) for t in tables for row in db.execute(f'SELECT * FROM "{t}"'))


async def dashboard_json(path: Path, run_id: str) -> str:
    """The dashboard's run and step JSON for ``run_id``."""
    store = SqliteStore(f"sqlite:///{path}")
    bodies: list[str] = []
    try:
        async with trio.open_nursery() as nursery:
            stop = trio.Event()
            urls = await nursery.start(
                lambda task_status: serve_dashboard(
                    store, host="127.0.0.1", port=0, stop=stop, task_status=task_status
                )
            )
            async with httpx.AsyncClient(base_url=urls[0], timeout=30) as client:
                paths = ["/api/runs", f"/api/runs/{run_id}"] + [
                    f"/api/runs/{run_id}/steps/{kind}_{i}"
                    for i in range(len(FORMS))
                    for kind in ("ok", "err")
                ]
                for url in paths:
                    response = await client.get(url)
                    assert response.status_code == 200, url
                    bodies.append(response.text)
            stop.set()
    finally:
        store.close()
    return "\n".join(bodies)


async def test_no_transformed_key_reaches_stdout_journal_status_or_dashboard(
    tmp_path: Path,
) -> None:
    """Each echoed form of the key is redacted on every channel; outputs and errors still show."""
    journal = tmp_path / "journal.db"
    store = ["--store", f"sqlite:///{journal}"]
    async with open_seed_agent_server(handler=provider) as server:
        (tmp_path / "wf.yaml").write_text(workflow(server))
        code, run_out = await cadenza("run", "wf.yaml", "--no-progress", *store, cwd=tmp_path)
    assert code == 1, run_out  # the err_ steps failed, as planned
    assert {call.authorization for call in server.calls} == {f"Bearer {KEY}"}  # really sent
    rows = journal_rows(journal)
    [run_id] = {r.run_id for r in SqliteStore(f"sqlite:///{journal}").list_runs()}
    _, status = await cadenza("status", run_id, *store, cwd=tmp_path)
    _, status_json = await cadenza("status", run_id, "--json", *store, cwd=tmp_path)
    dashboard = await dashboard_json(journal, run_id)
    channels = {
        "run": run_out,
        "journal": rows,
        "status": status,
        "status --json": status_json,
        "dashboard": dashboard,
    }
    for channel, text in channels.items():
        assert "your key is ***" in text, channel
        assert "bad request for key ***" in text, channel
        leaked = [name for name, form in FORMS if form in text]
        assert not leaked, f"{channel} shows the key as: {leaked}"
