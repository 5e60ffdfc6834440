"""Journal files the CLI must refuse: truncated, foreign, too new; unknown runs and URLs.

Every refusal is exit code 2 with a message saying what is wrong, which file,
and what to do, never a traceback, and the file's bytes are left as they were.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner, Result

import cadenza
import cadenza.store
from cadenza._cli import _add_builtin_commands, cli
from cadenza._cli._common import CliState

from .durability_helpers import (
    GatedStore,
    cadenza_argv,
    child_env,
    file_hash,
    has_event,
    opened,
    store_url,
)

NO_SUCH_RUN = "20260101-000000-abcdef"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
WORKFLOW = "agents:\n  t: {kind: template, options: {output: 'step {n}'}}\nsteps:\n" + "".join(
    f"  s{i}: {{uses: t, with: {{n: {i}}}}}\n" for i in range(40)
)


def invoke(*args: str, extra: Sequence[object] = ()) -> Result:
    """``cadenza ARGS`` in-process, with the built-in plugins (and ``extra``) only."""
    _add_builtin_commands()
    state = CliState(plugins=cadenza.plugins.load_plugins(extra=extra, entry_points=False))
    return CliRunner().invoke(cli, list(args), obj=state)


def commands(store: Path | str, workflow: Path) -> dict[str, list[str]]:
    """Every command that opens ``--store``, with the arguments it needs."""
    url = store if isinstance(store, str) else store_url(store)
    return {
        "run": ["run", str(workflow), "--store", url, "--no-progress"],
        "resume": ["resume", NO_SUCH_RUN, "--store", url],
        "runs": ["runs", "--store", url],
        "status": ["status", NO_SUCH_RUN, "--store", url],
        "cancel": ["cancel", NO_SUCH_RUN, "--store", url],
    }


def assert_refused(result: Result, *needles: str) -> None:
    """Exit 2, every needle in the message, and no traceback or escaped exception."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


@attrs.frozen
class Files:
    """A finished real journal (and its run id), and the workflow that wrote it."""

    journal: Path
    run_id: str
    workflow: Path


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Files:
    base = tmp_path_factory.mktemp("real")
    workflow = base / "wf.yaml"
    workflow.write_text(WORKFLOW)
    journal = base / "journal.db"
    result = invoke("run", str(workflow), "--store", store_url(journal), "--no-progress")
    assert result.exit_code == 0, result.output
    with opened(journal) as store:
        (record,) = store.list_runs()
    return Files(journal=journal, run_id=record.run_id, workflow=workflow)


def truncated(size: Callable[[int], int]) -> Callable[[Files, Path], None]:
    def make(real: Files, path: Path) -> None:
        shutil.copyfile(real.journal, path)
        with path.open("r+b") as fh:
            fh.truncate(size(path.stat().st_size))

    return make


def newer_schema(real: Files, path: Path) -> None:
    shutil.copyfile(real.journal, path)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE cadenza_meta SET value = '99' WHERE key = 'schema_version'")
    db.close()


def foreign_sqlite(real: Files, path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users (name) VALUES ('ada')")
    db.close()


BAD_FILES: dict[str, tuple[Callable[[Files, Path], None], tuple[str, ...]]] = {
    "truncated-to-half": (
        truncated(lambda size: size // 2),
        ("damaged or truncated", "Restore it from a backup or move it aside"),
    ),
    "truncated-to-100-bytes": (
        truncated(lambda size: 100),
        ("damaged or truncated", "Restore it from a backup or move it aside"),
    ),
    "png": (
        lambda real, path: path.write_bytes(PNG),
        ("not an SQLite database", "Point --store at another file"),
    ),
    "text": (
        lambda real, path: path.write_text("these are my notes, not a journal\n" * 20),
        ("not an SQLite database", "Point --store at another file"),
    ),
    "foreign-sqlite": (
        foreign_sqlite,
        ("an SQLite database, but not a Cadenza journal", "Point --store at another file"),
    ),
    "newer-schema": (
        newer_schema,
        ("written by a newer Cadenza (journal schema 99", "Upgrade Cadenza"),
    ),
}


@pytest.fixture(params=sorted(BAD_FILES))
def bad(
    request: pytest.FixtureRequest, real: Files, tmp_path: Path
) -> tuple[Path, tuple[str, ...]]:
    """A bad journal file, and what the refusal must say about it."""
    make, needles = BAD_FILES[request.param]
    path = tmp_path / f"{request.param}.db"
    make(real, path)
    return path, needles


@pytest.mark.parametrize("command", ["run", "resume", "runs", "status", "cancel"])
def test_bad_journal_file_is_refused_and_left_untouched(
    command: str, bad: tuple[Path, tuple[str, ...]], real: Files, tmp_path: Path
) -> None:
    """Each command refuses a damaged, foreign or too-new journal: exit 2, the file, the fix."""
    path, needles = bad
    before = file_hash(path)
    siblings = sorted(tmp_path.iterdir())
    result = invoke(*commands(path, real.workflow)[command])
    assert_refused(result, f"journal {path}:", *needles)
    assert file_hash(path) == before
    assert sorted(tmp_path.iterdir()) == siblings  # no -wal or -journal file left beside it


def test_journal_cut_inside_its_header_is_called_truncated(real: Files, tmp_path: Path) -> None:
    """A journal cut to 10 bytes (a prefix of the SQLite magic) is reported as truncated."""
    path = tmp_path / "journal.db"
    truncated(lambda size: 10)(real, path)
    before = file_hash(path)
    result = invoke(*commands(path, real.workflow)["resume"])
    assert_refused(
        result,
        f"journal {path}: the file is truncated",
        "Restore it from a backup or move it aside",
    )
    assert file_hash(path) == before


@pytest.mark.parametrize("command", ["resume", "status", "cancel"])
def test_unknown_run_id_is_refused_and_names_recent_runs(
    command: str, real: Files, tmp_path: Path
) -> None:
    """A run id that is not in the journal: exit 2, naming the journal and the runs it has."""
    journal = tmp_path / "journal.db"
    shutil.copyfile(real.journal, journal)
    before = file_hash(journal)
    result = invoke(*commands(journal, real.workflow)[command])
    assert_refused(
        result,
        f"no run {NO_SUCH_RUN!r} in the journal {store_url(journal)}",
        f"Recent runs: {real.run_id}",
        "cadenza runs",
    )
    assert file_hash(journal) == before


@pytest.mark.parametrize(
    "command",
    [
        "resume",
        "status",
        "cancel",
        "runs",
    ],
)
def test_missing_journal_is_not_created_by_reading_commands(
    command: str, real: Files, tmp_path: Path
) -> None:
    """Asking a journal that does not exist about runs says so and creates no file."""
    missing = tmp_path / "nowhere" / "journal.db"
    result = invoke(*commands(missing, real.workflow)[command])
    if command == "runs":
        assert result.exit_code == 0, result.output
        assert "no runs in the journal" in result.output
    else:
        assert_refused(result, f"no run {NO_SUCH_RUN!r}", "The journal has no runs")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "resume", "runs", "status", "cancel"])
@pytest.mark.parametrize(
    ("url", "needles"),
    [
        ("nosuch://journal", ("no journal store for nosuch:// URLs", "known schemes: sqlite")),
        ("sqlite:journal.db", ("cannot read the store URL 'sqlite:journal.db'", "sqlite:///")),
    ],
    ids=["unknown-scheme", "malformed-sqlite-url"],
)
def test_unusable_store_url_is_refused_and_creates_nothing(
    command: str,
    url: str,
    needles: tuple[str, ...],
    real: Files,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A --store URL no store can open: exit 2 with what would work, and no file created."""
    monkeypatch.chdir(tmp_path)
    result = invoke(*commands(url, real.workflow)[command])
    assert_refused(result, *needles)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("case", ["truncated-to-half", "png", "foreign-sqlite", "newer-schema"])
def test_bad_journal_from_the_command_line(case: str, real: Files, tmp_path: Path) -> None:
    """End to end, `cadenza run` and `cadenza resume` refuse a bad journal without a traceback."""
    make, needles = BAD_FILES[case]
    path = tmp_path / "journal.db"
    make(real, path)
    before = file_hash(path)
    for command in ("run", "resume"):
        proc = subprocess.run(
            cadenza_argv(*commands(path, real.workflow)[command]),
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=120,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == ""
        assert proc.stderr.startswith(f"error: journal {path}:"), proc.stderr
        for needle in needles:
            assert needle in proc.stderr
        assert "Traceback" not in proc.stderr
        assert file_hash(path) == before


class FullDiskStores:
    """Registers ``fulldisk://PATH``: an SQLite journal whose writes of step successes fail."""

    @cadenza.hookimpl
    def cadenza_stores(self, register: Any) -> None:
        def factory(url: str) -> GatedStore:
            inner = cadenza.store.SqliteStore(store_url(Path(url.removeprefix("fulldisk://"))))
            return GatedStore(inner, fail=has_event("step_succeeded"))

        register("fulldisk", factory)


def test_journal_write_failure_during_a_run_exits_2_with_the_stores_message(
    real: Files, tmp_path: Path
) -> None:
    """A store that fails mid-run stops `cadenza run` with its message and exit 2, not a hang."""
    journal = tmp_path / "journal.db"
    url = f"fulldisk://{journal}"
    result = invoke(
        "run", str(real.workflow), "--store", url, "--no-progress", extra=[FullDiskStores()]
    )
    assert_refused(result, f"error: journal {store_url(journal)}: disk full (simulated)")
