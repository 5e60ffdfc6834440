"""The built-in SQLite store: the conformance suite, URLs, file safety, WAL and sharing a file."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import cadenza
from cadenza._journal._sqlite import absolute_url, find_journal
from cadenza._journal._store import SCHEMA_VERSION, open_store
from cadenza._plugins._registry import load_plugins
from cadenza.store import (
    RunRecord,
    SqliteStore,
    StoreError,
    StoreFullError,
    StoreReadOnlyError,
    WriteBatch,
)
from cadenza.testing import StoreConformance

from .journal_helpers import read_only


class TestSqliteStoreConformance(StoreConformance):
    """SqliteStore passes the store conformance suite."""

    @pytest.fixture
    def store(self, tmp_path: Path) -> SqliteStore:
        return SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")


def record(run_id: str = "r") -> RunRecord:
    return RunRecord(run_id=run_id, workflow="w", started_at=1.0)


@pytest.fixture
def opened() -> Iterator[list[SqliteStore]]:
    """Stores a test opens, closed at the end."""
    stores: list[SqliteStore] = []
    yield stores
    for store in stores:
        store.close()


def open_at(url: str, opened: list[SqliteStore]) -> SqliteStore:
    store = SqliteStore(url)
    opened.append(store)
    return store


def make_journal(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(str(path))
    store.write(WriteBatch(runs=[record()]))
    store.close()


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file in ``directory`` with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# -- URLs -------------------------------------------------------------------------


def test_three_slash_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[SqliteStore]
) -> None:
    """``sqlite:///rel/j.db`` opens ``rel/j.db`` under the current directory, kept absolute."""
    monkeypatch.chdir(tmp_path)
    store = open_at("sqlite:///rel/j.db", opened)
    assert store.path == tmp_path / "rel" / "j.db"
    assert (tmp_path / "rel" / "j.db").is_file()
    monkeypatch.chdir(tmp_path / "rel")  # a later chdir changes nothing
    store.write(WriteBatch(runs=[record()]))
    assert store.get_run("r") == record()
    assert not (tmp_path / "rel" / "rel").exists()


def test_four_slash_url_is_absolute(tmp_path: Path, opened: list[SqliteStore]) -> None:
    """``sqlite:////abs/j.db`` opens the absolute path ``/abs/j.db``."""
    path = tmp_path / "abs.db"
    store = open_at("sqlite:////" + str(path).lstrip("/"), opened)
    assert store.path == path
    assert path.is_file()


def test_plain_path_opens_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, opened: list[SqliteStore]
) -> None:
    """A URL without a scheme is a file path, relative or absolute."""
    monkeypatch.chdir(tmp_path)
    open_at("plain.db", opened)
    open_at(str(tmp_path / "absolute.db"), opened)
    assert (tmp_path / "plain.db").is_file()
    assert (tmp_path / "absolute.db").is_file()


@pytest.mark.parametrize("url", ["sqlite:j.db", "sqlite://host/j.db", "sqlite:/j.db"])
def test_malformed_sqlite_url_says_how_to_write_one(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``sqlite:`` URL without three slashes is a StoreError showing both right forms."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"sqlite:///relative/path\.db") as info:
        SqliteStore(url)
    assert "sqlite:////absolute/path.db" in str(info.value)
    assert info.value.url == url
    assert list(tmp_path.iterdir()) == []


def test_open_store_picks_sqlite_by_scheme_and_for_plain_paths(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """open_store() opens the built-in SQLite store for sqlite:// URLs and for plain paths."""
    registered = load_plugins(entry_points=False).registered("cadenza_stores")
    for url in (f"sqlite:///{tmp_path / 'a.db'}", str(tmp_path / "b.db")):
        store = open_store(url, registered)
        assert isinstance(store, SqliteStore)
        opened.append(store)
    assert (tmp_path / "a.db").is_file()
    assert (tmp_path / "b.db").is_file()


def test_open_store_with_an_unknown_scheme_lists_the_known_ones(tmp_path: Path) -> None:
    """An unregistered scheme is a StoreError naming the schemes that are registered."""
    registered = load_plugins(entry_points=False).registered("cadenza_stores")
    with pytest.raises(StoreError, match=r"no journal store for postgres:// URLs") as info:
        open_store("postgres://db/journal", registered)
    assert "known schemes: sqlite" in str(info.value)


# -- creating --------------------------------------------------------------------


def test_missing_parent_directories_are_created(tmp_path: Path, opened: list[SqliteStore]) -> None:
    """Opening a journal in a directory that does not exist yet creates the directories."""
    path = tmp_path / "a" / "b" / "c" / "journal.db"
    store = open_at(str(path), opened)
    store.write(WriteBatch(runs=[record()]))
    assert path.is_file()


def test_new_journal_records_its_schema_version(tmp_path: Path) -> None:
    """A new journal stores the schema version it was written with."""
    path = tmp_path / "j.db"
    make_journal(path)
    db = sqlite3.connect(path)
    try:
        (version,) = db.execute(
            "SELECT value FROM cadenza_meta WHERE key = 'schema_version'"
        ).fetchone()
    finally:
        db.close()
    assert int(version) == SCHEMA_VERSION


def test_empty_file_becomes_a_journal(tmp_path: Path, opened: list[SqliteStore]) -> None:
    """A zero-byte file holds no data, so it is initialised as a new journal."""
    path = tmp_path / "empty.db"
    path.touch()
    store = open_at(str(path), opened)
    store.write(WriteBatch(runs=[record()]))
    assert store.get_run("r") == record()


def test_journal_uses_wal_and_full_sync(tmp_path: Path, opened: list[SqliteStore]) -> None:
    """The journal file is in WAL mode, and the store commits with synchronous=FULL."""
    path = tmp_path / "j.db"
    store = open_at(str(path), opened)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        db.close()
    assert store._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_values_that_are_not_json_are_stored_as_text(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """A value JSON cannot encode is stored as its ``str()``: data, never a pickle."""
    store = open_at(str(tmp_path / "j.db"), opened)
    event = {"kind": "step_succeeded", "run_id": "r", "seq": 0, "at": 1.0, "output": tmp_path}
    store.write(WriteBatch(events=[event]))
    assert store.read_events("r")[0]["output"] == str(tmp_path)


# -- refusing files it does not recognise ------------------------------------------


def test_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    """A text file is refused with StoreError, and left exactly as it was."""
    path = tmp_path / "notes.txt"
    path.write_text("my precious notes\n")
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="not an SQLite database") as info:
        SqliteStore(str(path))
    assert "left untouched" in str(info.value)
    assert snapshot(tmp_path) == before


def test_refuses_another_applications_sqlite_database(tmp_path: Path) -> None:
    """An SQLite database without Cadenza's tables is refused and left exactly as it was."""
    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (name TEXT)")
    db.execute("INSERT INTO users VALUES ('ada')")
    db.commit()
    db.close()
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="not a Cadenza journal"):
        SqliteStore(str(path))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("size", [100, 4096, 8192])
def test_refuses_a_truncated_journal(size: int, tmp_path: Path) -> None:
    """A journal cut short is refused as damaged or truncated, and left exactly as it was."""
    whole = tmp_path / "whole.db"
    make_journal(whole)
    path = tmp_path / "cut" / "j.db"
    path.parent.mkdir()
    path.write_bytes(whole.read_bytes()[:size])
    before = snapshot(path.parent)
    with pytest.raises(StoreError, match="damaged or truncated") as info:
        SqliteStore(str(path))
    assert "left untouched" in str(info.value)
    assert snapshot(path.parent) == before


def test_refuses_a_journal_from_a_newer_cadenza(tmp_path: Path) -> None:
    """A journal with a newer schema version is refused with both versions, and left as it was."""
    path = tmp_path / "j.db"
    make_journal(path)
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE cadenza_meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,)
    )
    db.commit()
    db.close()
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="newer Cadenza") as info:
        SqliteStore(str(path))
    message = str(info.value)
    assert f"journal schema {SCHEMA_VERSION + 1}" in message
    assert f"reads up to {SCHEMA_VERSION}" in message
    assert "Upgrade Cadenza" in message
    assert snapshot(tmp_path) == before


def test_refuses_a_journal_without_a_schema_version(tmp_path: Path) -> None:
    """A journal whose schema version is missing is refused and left as it was."""
    path = tmp_path / "j.db"
    make_journal(path)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM cadenza_meta")
    db.commit()
    db.close()
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="schema version is missing"):
        SqliteStore(str(path))
    assert snapshot(tmp_path) == before


def test_store_error_is_a_cadenza_error(tmp_path: Path) -> None:
    """Callers can catch every store problem as CadenzaError."""
    path = tmp_path / "x.txt"
    path.write_text("x" * 32)
    with pytest.raises(cadenza.CadenzaError):
        SqliteStore(str(path))


# -- sharing a file ----------------------------------------------------------------


def test_second_store_on_the_same_file_sees_committed_writes(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """A store opened before another one writes sees that write once it is committed."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    writer, reader = open_at(url, opened), open_at(url, opened)
    assert reader.get_run("r") is None
    writer.write(
        WriteBatch(
            events=[{"kind": "step_ready", "run_id": "r", "seq": 0, "at": 1.0, "step_id": "a"}],
            runs=[record()],
        )
    )
    assert reader.get_run("r") == record()
    assert [e["seq"] for e in reader.read_events("r")] == [0]


def test_cancel_request_from_another_store_reaches_the_writer(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """``cadenza cancel`` in another process flags the run the running process reads."""
    url = f"sqlite:///{tmp_path / 'j.db'}"
    running, canceller = open_at(url, opened), open_at(url, opened)
    running.write(WriteBatch(runs=[record()]))
    assert canceller.request_cancel("r") is True
    seen = running.get_run("r")
    assert seen is not None
    assert seen.cancel_requested is True
    running.write(WriteBatch(runs=[record()]))
    kept = canceller.get_run("r")
    assert kept is not None
    assert kept.cancel_requested is True


# -- read-only places --------------------------------------------------------------


def journal_with_a_run(path: Path) -> None:
    """A closed journal at ``path`` holding run ``r`` and one event of it."""
    store = SqliteStore(str(path))
    event = {"kind": "step_ready", "run_id": "r", "seq": 0, "at": 1.0, "step_id": "a"}
    store.write(WriteBatch(events=[event], runs=[record()]))
    store.close()


@pytest.mark.parametrize("place", ["folder", "file"])
def test_journal_in_a_read_only_place_is_read_and_never_written(
    place: str, tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """A read-only folder or file opens read-only: reads work, writes name the path."""
    path = tmp_path / "j.db"
    journal_with_a_run(path)
    before = snapshot(tmp_path)
    with read_only(tmp_path if place == "folder" else path):
        store = open_at(f"sqlite:///{path}", opened)
        assert store.read_only is True
        assert store.read_only_reason  # "... is on a read-only file system" or "... not writable"
        assert store.get_run("r") == record()
        assert [r.run_id for r in store.list_runs()] == ["r"]
        assert [e["seq"] for e in store.read_events("r")] == [0]
        with pytest.raises(StoreReadOnlyError, match="recording runs needs write access") as info:
            store.write(WriteBatch(runs=[record("r2")]))
        assert f"the journal at {path} is read-only" in str(info.value)
        with pytest.raises(StoreReadOnlyError, match="cancel needs write access"):
            store.request_cancel("r")
        store.close()
    assert snapshot(tmp_path)["j.db"] == before["j.db"]


def test_a_journal_opened_read_only_is_never_written(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """``read_only=True`` reads a writable journal and refuses every write."""
    path = tmp_path / "j.db"
    journal_with_a_run(path)
    before = path.read_bytes()
    store = SqliteStore(str(path), read_only=True)
    opened.append(store)
    assert store.get_run("r") == record()
    with pytest.raises(StoreReadOnlyError, match="opened read-only"):
        store.write(WriteBatch(runs=[record("r2")]))
    assert path.read_bytes() == before


def test_read_only_folder_with_the_wal_index_reads_the_latest_commits(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """Commits still in the -wal file are read when its -shm index is there too."""
    live, copy = tmp_path / "live", tmp_path / "copy"
    live.mkdir()
    copy.mkdir()
    writer = open_at(str(live / "j.db"), opened)
    writer.write(WriteBatch(runs=[record()]))  # in the -wal file until the store closes
    for suffix in ("", "-wal", "-shm"):
        (copy / f"j.db{suffix}").write_bytes((live / f"j.db{suffix}").read_bytes())
    with read_only(copy):
        store = open_at(str(copy / "j.db"), opened)
        assert store.get_run("r") == record()
        store.close()


def test_read_only_folder_with_commits_only_in_the_wal_file_is_refused(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """Without the -shm index SQLite cannot read the -wal file: refused, not read stale."""
    live, copy = tmp_path / "live", tmp_path / "copy"
    live.mkdir()
    copy.mkdir()
    writer = open_at(str(live / "j.db"), opened)
    writer.write(WriteBatch(runs=[record()]))
    for suffix in ("", "-wal"):
        (copy / f"j.db{suffix}").write_bytes((live / f"j.db{suffix}").read_bytes())
    with read_only(copy), pytest.raises(StoreError, match="its -wal file holds commits") as info:
        SqliteStore(str(copy / "j.db"))
    assert "Copy the journal together with its -wal file" in str(info.value)


def test_missing_journal_in_a_read_only_folder_is_not_created(tmp_path: Path) -> None:
    """A journal that would have to be created in a read-only folder: the folder and why."""
    with read_only(tmp_path), pytest.raises(StoreReadOnlyError) as info:
        SqliteStore(str(tmp_path / "sub" / "j.db"))
    assert info.value.creating is True
    assert f"cannot create the journal at {tmp_path / 'sub' / 'j.db'}" in str(info.value)
    assert str(tmp_path) in info.value.reason
    assert list(tmp_path.iterdir()) == []


# -- a full disk -------------------------------------------------------------------


def test_full_database_is_reported_as_full_and_keeps_what_was_committed(
    tmp_path: Path, opened: list[SqliteStore]
) -> None:
    """SQLITE_FULL (here from max_page_count) names the journal; earlier commits stay."""
    path = tmp_path / "j.db"
    store = open_at(str(path), opened)
    store.write(WriteBatch(runs=[record()]))
    (pages,) = store._db.execute("PRAGMA page_count").fetchone()
    store._db.execute(f"PRAGMA max_page_count = {pages}")
    big = {"kind": "step_succeeded", "run_id": "r", "seq": 0, "at": 1.0, "output": "x" * 100_000}
    with pytest.raises(StoreFullError) as info:
        store.write(WriteBatch(events=[big], runs=[record("r2")]))
    message = str(info.value)
    assert message.startswith(f"the disk holding the journal at {path} is full")
    assert "rollback" not in message
    assert store.get_run("r") == record()
    assert store.get_run("r2") is None  # the batch that did not fit is gone whole
    assert store.read_events("r") == []
    store._db.execute("PRAGMA max_page_count = 1000000")  # space freed: writing works again
    store.write(WriteBatch(events=[{**big, "output": "small"}]))
    assert [e["output"] for e in store.read_events("r")] == ["small"]


# -- finding the journal -----------------------------------------------------------


def test_journal_is_found_in_a_parent_folder(tmp_path: Path) -> None:
    """From a subfolder, the nearest ``.cadenza/journal.db`` above is the journal."""
    make_journal(tmp_path / ".cadenza" / "journal.db")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_journal(deep, home=None) == tmp_path / ".cadenza" / "journal.db"


def test_nearest_journal_wins(tmp_path: Path) -> None:
    """A project inside another project keeps its own journal."""
    make_journal(tmp_path / ".cadenza" / "journal.db")
    make_journal(tmp_path / "inner" / ".cadenza" / "journal.db")
    (tmp_path / "inner" / "src").mkdir()
    found = find_journal(tmp_path / "inner" / "src", home=None)
    assert found == tmp_path / "inner" / ".cadenza" / "journal.db"


def test_a_journal_above_wins_over_a_nearer_folder_without_one(tmp_path: Path) -> None:
    """A ``.cadenza/`` holding only run outputs does not hide the project's journal above."""
    make_journal(tmp_path / ".cadenza" / "journal.db")
    (tmp_path / "sub" / ".cadenza" / "out").mkdir(parents=True)
    assert find_journal(tmp_path / "sub", home=None) == tmp_path / ".cadenza" / "journal.db"


def test_an_empty_cadenza_folder_above_marks_the_project(tmp_path: Path) -> None:
    """With no journal anywhere, the nearest ``.cadenza/`` folder gets the new one."""
    (tmp_path / ".cadenza").mkdir()
    (tmp_path / "sub").mkdir()
    assert find_journal(tmp_path / "sub", home=None) == tmp_path / ".cadenza" / "journal.db"


def test_without_a_project_the_journal_goes_in_the_start_folder(tmp_path: Path) -> None:
    """Nothing found: ``.cadenza/journal.db`` in the folder the search started from."""
    assert find_journal(tmp_path, home=None) == tmp_path / ".cadenza" / "journal.db"


def test_the_home_folder_is_not_searched(tmp_path: Path) -> None:
    """A ``~/.cadenza`` does not collect the runs of every project below home."""
    make_journal(tmp_path / ".cadenza" / "journal.db")
    (tmp_path / "project").mkdir()
    found = find_journal(tmp_path / "project", home=tmp_path)
    assert found == tmp_path / "project" / ".cadenza" / "journal.db"
    assert find_journal(tmp_path, home=tmp_path) == tmp_path / ".cadenza" / "journal.db"


def test_search_starts_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a start folder the search starts in the working directory."""
    make_journal(tmp_path / ".cadenza" / "journal.db")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert find_journal(home=tmp_path.parent) == tmp_path / ".cadenza" / "journal.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///rel/j.db", "sqlite:///{cwd}/rel/j.db"),
        ("rel/j.db", "{cwd}/rel/j.db"),
        ("sqlite:////abs/j.db", "sqlite:////abs/j.db"),
        ("/abs/j.db", "/abs/j.db"),
        ("sqlite:j.db", "sqlite:j.db"),
        ("postgres://db/x", "postgres://db/x"),
    ],
)
def test_relative_sqlite_urls_are_made_absolute(
    url: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative SQLite paths become absolute; other URLs are left for their store to judge."""
    monkeypatch.chdir(tmp_path)
    assert absolute_url(url) == expected.format(cwd=tmp_path)


def test_no_space_for_the_journal_folder_is_reported_as_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while creating the journal's folder is the full-disk error, not an OSError."""

    def no_space(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "mkdir", no_space)
    path = tmp_path / "new" / "j.db"
    with pytest.raises(StoreFullError, match="No space left on device") as info:
        SqliteStore(str(path))
    assert str(info.value).startswith(f"the disk holding the journal at {path} is full")
