"""celpy's parser is built from Lark tables cached in the user's cache folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PARSE = textwrap.dedent(
    """
    import json, sys
    from cadenza._expr import _expressions, _parser
    from celpy.celparser import CELParser

    condition, issues = _expressions.compile_condition(
        "steps.a.output.n >= 2 && inputs.flag", path="steps.b.when"
    )
    tree = _expressions._environment().compile("[1, 2].map(x, x * 2)[0] == 2 ? 'y' : \\"n\\"")
    _, bad = _expressions.compile_condition("inputs.x = 1", path="steps.b.when")
    print(json.dumps({
        "cache": str(_parser.cache_file()),
        "tree": tree.pretty(),
        "refs": sorted(condition.step_refs | condition.input_refs),
        "issues": [issue.message for issue in issues + bad],
        "parser": type(CELParser.CEL_PARSER).__name__,
    }))
    """
)


def _parse_in_a_new_process(cache_home: str) -> dict[str, object]:
    env = {**os.environ, "XDG_CACHE_HOME": cache_home}
    done = subprocess.run(
        [sys.executable, "-c", PARSE], capture_output=True, text=True, env=env, check=True
    )
    assert done.stderr == ""
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.slow
def test_the_second_process_parses_from_the_cached_tables_as_the_first(tmp_path: Path) -> None:
    """The first process writes the tables; the next loads them and parses exactly the same."""
    first = _parse_in_a_new_process(str(tmp_path))
    cache = Path(str(first["cache"]))
    assert cache.parent == tmp_path / "cadenza"
    assert cache.is_file()
    assert cache.parent.stat().st_mode & 0o077 == 0
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no partial file left
    written = cache.stat().st_mtime_ns
    second = _parse_in_a_new_process(str(tmp_path))
    assert second == first
    assert cache.stat().st_mtime_ns == written  # loaded, not rebuilt
    assert first["refs"] == ["a", "flag"]
    assert first["issues"] == [
        "syntax error at column 10: unexpected character '='; expected an operator or the end "
        "of the expression"
    ]


@pytest.mark.slow
def test_a_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    """A damaged tables file is ignored and written anew; parsing is unaffected."""
    first = _parse_in_a_new_process(str(tmp_path))
    cache = Path(str(first["cache"]))
    cache.write_bytes(b"not a pickle at all")
    assert _parse_in_a_new_process(str(tmp_path)) == first
    assert cache.stat().st_size > 1000


@pytest.mark.slow
def test_an_unwritable_cache_folder_only_costs_time(tmp_path: Path) -> None:
    """When the cache folder cannot be made, the parser is built in memory, silently."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    reference = _parse_in_a_new_process(str(tmp_path / "fine"))
    result = _parse_in_a_new_process(str(blocker))
    assert {**result, "cache": ""} == {**reference, "cache": ""}


def test_a_relative_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the XDG spec says, a relative XDG_CACHE_HOME is ignored: ~/.cache is used."""
    from cadenza._expr._parser import cache_file

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", "/home/someone")
    path = cache_file()
    assert path is not None
    assert path.parent == Path("/home/someone/.cache/cadenza")
    assert path.name.startswith("cel-parser-")
