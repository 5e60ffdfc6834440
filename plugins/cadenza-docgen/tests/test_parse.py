"""Parsing files inline or in worker threads, with progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza_docgen import _parse
from cadenza_docgen._files import find_sources
from cadenza_docgen._parse import parse_all


@pytest.mark.parametrize("inline_bytes", [10**9, 0], ids=["inline", "threads"])
async def test_parse_all_reports_each_file(
    project: Path, monkeypatch: pytest.MonkeyPatch, inline_bytes: int
) -> None:
    """Same modules whether parsed on the trio thread or in worker threads."""
    monkeypatch.setattr(_parse, "INLINE_BYTES", inline_bytes)
    found = find_sources(
        ["unity", "python"], base_dir=project, languages=frozenset({"csharp", "python"})
    )
    messages: list[str] = []
    modules = await parse_all(found.files, progress=messages.append)
    assert messages == [f"{i}/7 files" for i in range(1, 8)]
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
