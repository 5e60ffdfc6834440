"""Parsing files inline or in worker threads, with progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza_docgen import _parse
from cadenza_docgen._files import SourceFile, find_sources
from cadenza_docgen._parse import parse_all


@pytest.mark.parametrize(
    ("inline_bytes", "chunk_bytes"),
    [(10**9, 1), (0, 1), (0, 10**9)],
    ids=["inline", "chunk-per-file", "one-chunk"],
)
async def test_parse_all_reports_progress_and_keeps_the_order(
    project: Path, monkeypatch: pytest.MonkeyPatch, inline_bytes: int, chunk_bytes: int
) -> None:
    """Same modules, in file order, parsed on the trio thread or in chunks in threads."""
    monkeypatch.setattr(_parse, "INLINE_BYTES", inline_bytes)
    monkeypatch.setattr(_parse, "CHUNK_BYTES", chunk_bytes)
    found = find_sources(
        ["unity", "python"], base_dir=project, languages=frozenset({"csharp", "python"})
    )
    messages: list[str] = []
    modules = await parse_all(found.files, progress=messages.append)
    if chunk_bytes == 1:  # one file per report (chunks may finish in any order)
        assert sorted(messages) == sorted(f"{i}/7 files" for i in range(1, 8))
    else:
        assert messages == ["7/7 files"]
    assert [m.source for m in modules] == [f.name for f in found.files]
    broken = next(m for m in modules if m.source == "python/broken.py")
    assert broken.fatal
    assert broken.problems[0].line == 8


async def test_unreadable_and_huge_files_are_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither stops the step: each becomes a fatal module with a message."""
    monkeypatch.setattr(_parse, "MAX_FILE_BYTES", 10)
    (tmp_path / "Big.cs").write_text("public class Big { }")
    found = find_sources(["Big.cs"], base_dir=tmp_path, languages=frozenset({"csharp"}))
    (tmp_path / "Big.cs").unlink()  # gone between listing and reading
    [gone] = await parse_all(found.files, progress=lambda _: None)
    assert gone.fatal
    assert gone.problems[0].message.startswith("cannot read the file")
    (tmp_path / "Big.cs").write_text("public class Big { }")
    [big] = await parse_all(found.files, progress=lambda _: None)
    assert big.problems[0].message.startswith("skipped: 20 bytes is more than the 10 byte limit")


def test_chunks_cut_at_the_byte_target(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files stay in order; a chunk closes once it holds CHUNK_BYTES."""
    monkeypatch.setattr(_parse, "CHUNK_BYTES", 100)
    files = [SourceFile(path=Path(f"{i}.py"), language="python", name=f"{i}.py") for i in range(5)]
    parts = _parse.chunks(files, [60, 50, 10, 200, 5])
    assert [[f.name for f in part] for part in parts] == [
        ["0.py", "1.py"],
        ["2.py", "3.py"],
        ["4.py"],
    ]
