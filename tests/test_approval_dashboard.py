"""The dashboard's approval buttons: token-protected, CSRF-safe POSTs, read-only without a token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from cadenza import _events as ev
from cadenza._journal._sqlite import SqliteStore
from cadenza._journal._store import RunRecord, WriteBatch

from .serve_helpers import TOKEN, dashboard

PATH = "/api/runs/r1/approvals/publish"
GOOD = {"X-Cadenza": "1", "Content-Type": "application/json"}
BODY = {"approved": True, "reason": "looks right"}


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A journal holding run r1 with the gate of ``publish`` open (approvers: any)."""
    return _journal(tmp_path, approvers=())


def _journal(tmp_path: Path, *, approvers: tuple[str, ...]) -> str:
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    store = SqliteStore(url)
    now = time.time()
    events = [
        ev.RunStarted(run_id="r1", seq=0, at=now, workflow="wf", source="", source_hash="",
                      inputs={}, steps=("draft", "publish")),
        ev.ApprovalRequested(run_id="r1", seq=1, at=now, step_id="publish",
                             prompt="Publish <b>now</b>?", approvers=approvers,
                             expires_at=now + 600),
    ]  # fmt: skip
    record = RunRecord(run_id="r1", workflow="wf", started_at=now, pid=2**22 + 9, host="")
    store.write(WriteBatch(events=[e.to_dict() for e in events], runs=[record]))
    store.close()
    return url


def _decisions(url: str) -> list[Any]:
    store = SqliteStore(url)
    try:
        return store.read_decisions("r1")
    finally:
        store.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def test_post_without_or_with_a_wrong_token_is_refused(url: str) -> None:
    """No token, or a wrong one: 401 from the token check, nothing recorded."""
    async with dashboard(url, token=TOKEN) as client:
        assert (await client.post(PATH, json=BODY, headers=GOOD)).status_code == 401
        wrong = {**GOOD, "Authorization": "Bearer not-the-token-at-all-0000"}
        assert (await client.post(PATH, json=BODY, headers=wrong)).status_code == 401
    assert _decisions(url) == []


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Content-Type": "application/json"}, "X-Cadenza: 1"),
        ({**GOOD, "Sec-Fetch-Site": "cross-site"}, "cross-site request refused"),
        ({**GOOD, "Origin": "https://evil.example"}, "cross-origin request refused"),
    ],
    ids=["no-csrf-header", "sec-fetch-site", "foreign-origin"],
)
async def test_post_that_may_come_from_another_site_is_refused(
    url: str, headers: dict[str, str], expected: str
) -> None:
    """With the token but without the CSRF header, or sent from elsewhere: 403."""
    async with dashboard(url, token=TOKEN) as client:
        reply = await client.post(PATH, json=BODY, headers={**AUTH, **headers})
    assert reply.status_code == 403
    assert expected in reply.json()["error"]
    assert _decisions(url) == []


async def test_valid_post_records_the_decision_as_the_dashboard(url: str) -> None:
    """Token, CSRF header, same origin: the decision is recorded with who and why."""
    async with dashboard(url, token=TOKEN) as client:
        origin = str(client.base_url).rstrip("/")
        headers = {**AUTH, **GOOD, "Origin": origin, "Sec-Fetch-Site": "same-origin"}
        reply = await client.post(PATH, json=BODY, headers=headers)
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"run_id": "r1", "step_id": "publish", "approved": True,
                                "by": "dashboard"}  # fmt: skip
        again = await client.post(PATH, json={"approved": False}, headers=headers)
        assert again.status_code == 409
        assert "already decided (approved by dashboard)" in again.json()["error"]
    (decision,) = _decisions(url)
    assert (decision.approved, decision.by, decision.reason) == (True, "dashboard", "looks right")


async def test_bad_body_is_a_400(url: str) -> None:
    """approved must be a boolean."""
    async with dashboard(url, token=TOKEN) as client:
        reply = await client.post(PATH, json={"approved": "yes"}, headers={**AUTH, **GOOD})
    assert reply.status_code == 400
    assert "approved" in reply.json()["error"]


async def test_without_a_token_the_dashboard_only_shows_gates(url: str) -> None:
    """No token: the POST is refused and the run page shows the command instead of buttons."""
    async with dashboard(url) as client:
        reply = await client.post(PATH, json=BODY, headers=GOOD)
        assert reply.status_code == 403
        assert "read-only for approvals" in reply.json()["error"]
        page = (await client.get("/runs/r1")).text
    assert "Waiting for approval" in page
    assert "Publish &lt;b&gt;now&lt;/b&gt;?" in page, "the prompt is escaped"
    assert "cadenza approve r1 publish" in page
    assert 'class="approve"' not in page
    assert _decisions(url) == []


async def test_read_only_dashboard_refuses_decisions_even_with_a_token(url: str) -> None:
    """--read-only: the token alone does not enable the buttons."""
    async with dashboard(url, token=TOKEN, read_only=True) as client:
        reply = await client.post(PATH, json=BODY, headers={**AUTH, **GOOD})
    assert reply.status_code == 403


async def test_run_page_with_a_token_has_the_buttons(url: str) -> None:
    """With a token the run page offers Approve and Reject for each open gate."""
    async with dashboard(url, token=TOKEN) as client:
        page = (await client.get("/runs/r1", headers=AUTH)).text
        data = (await client.get("/api/runs/r1", headers=AUTH)).json()
    assert 'class="approve"' in page
    assert 'class="reject"' in page
    assert 'data-step="publish"' in page
    assert [g["step_id"] for g in data["approvals"]] == ["publish"]


async def test_approvers_apply_to_the_dashboard_name(tmp_path: Path) -> None:
    """A step listing approvers can be decided only by a dashboard serving as one of them."""
    url = _journal(tmp_path, approvers=("alice",))
    async with dashboard(url, token=TOKEN) as client:
        reply = await client.post(PATH, json=BODY, headers={**AUTH, **GOOD})
        assert reply.status_code == 409
        assert "'dashboard' may not decide" in reply.json()["error"]
    async with dashboard(url, token=TOKEN, approver="alice") as client:
        reply = await client.post(PATH, json=BODY, headers={**AUTH, **GOOD})
        assert reply.status_code == 200
    assert _decisions(url)[0].by == "alice"
