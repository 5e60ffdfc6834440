"""The SQLite store's approval decisions: a journal from before them gains the table on open."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import cadenza
from cadenza._plugins._registry import load_plugins
from cadenza.store import ApprovalDecision, SqliteStore


def _decision() -> ApprovalDecision:
    return ApprovalDecision(
        run_id="r", step_id="s", request=1, approved=True, by="alice", decided_at=1.0
    )


def _old_journal(tmp_path: Path) -> Path:
    """A journal as Cadenza wrote it before approval gates (no approval_decisions table)."""
    path = tmp_path / "journal.db"
    SqliteStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE approval_decisions")
    return path


def test_old_journal_gains_the_table_when_opened_for_writing(tmp_path: Path) -> None:
    """Opening an older journal for writing adds the table; decisions then round-trip."""
    path = _old_journal(tmp_path)
    store = SqliteStore(f"sqlite:///{path}")
    try:
        assert store.record_decision(_decision()) is True
        assert store.read_decisions("r") == [_decision()]
    finally:
        store.close()


def test_old_journal_read_only_has_no_decisions(tmp_path: Path) -> None:
    """Read-only, an older journal is left as it is and simply has no decisions."""
    path = _old_journal(tmp_path)
    store = SqliteStore(f"sqlite:///{path}", read_only=True)
    try:
        assert store.read_decisions("r") == []
    finally:
        store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "approval_decisions" not in tables


async def test_a_store_without_decisions_fails_the_gated_step_clearly(tmp_path: Path) -> None:
    """SupportsApprovals is optional: a store written before it still runs other workflows,
    and a gate on it fails its step saying why instead of breaking the run."""
    from cadenza.store import Store as StoreProtocol
    from cadenza.store import SupportsApprovals

    class OldStore:  # a plugin store from before approval gates: delegates everything else
        def __init__(self, inner: SqliteStore) -> None:
            self._inner = inner
            self.url = inner.url

        def __getattr__(self, name: str) -> Any:
            if name in ("record_decision", "read_decisions"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    old = OldStore(SqliteStore(f"sqlite:///{tmp_path / 'j.db'}"))
    assert isinstance(old, StoreProtocol)
    assert not isinstance(old, SupportsApprovals)
    plugins = load_plugins(entry_points=False)
    data = {
        "name": "gated",
        "agents": {"t": {"kind": "template"}},
        "steps": {"free": {"uses": "t"}, "publish": {"uses": "t", "approval": "Publish?"}},
    }
    workflow = cadenza.load_workflow_data(data, plugins=plugins).workflow
    result = await cadenza.run_workflow(workflow, plugins=plugins, store=old)  # type: ignore[arg-type]
    assert result.steps["free"].status == "succeeded"
    publish = result.steps["publish"]
    assert publish.status == "failed"
    assert "cannot record approval decisions" in (publish.error or "")
