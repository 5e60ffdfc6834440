"""Fenced code blocks are found, named and given safe paths."""

from __future__ import annotations

import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza_openai._codeblocks import (
    CodeBlock,
    extension_for,
    extract_blocks,
    plan_files,
    safe_relative_path,
)

REPLY = """Here is the component.

```python src/movement.py
class Movement:
    pass
```

And its test:

```python:tests/test_movement.py
def test_it():
    assert True
```

```csharp
// file: Assets/Scripts/Player.cs
public class Player {}
```

**docs/usage.md**
```markdown
# Usage
```

```bash
pip install movement
```
"""


def test_blocks_and_their_names() -> None:
    """Each naming convention (info string, path suffix, marker line, line before) is read."""
    blocks = extract_blocks(REPLY)
    assert [(b.language, b.name) for b in blocks] == [
        ("python", "src/movement.py"),
        ("python", "tests/test_movement.py"),
        ("csharp", "Assets/Scripts/Player.cs"),
        ("markdown", "docs/usage.md"),
        ("bash", None),
    ]
    assert blocks[0].content == "class Movement:\n    pass\n"
    assert blocks[2].content == "public class Player {}\n"  # the marker line is dropped


@pytest.mark.parametrize(
    ("info", "language", "name"),
    [
        ("python", "python", None),
        ("Python app.py", "python", "app.py"),
        ('python title="src/app.py"', "python", "src/app.py"),
        ("ts filename=web/index.ts", "ts", "web/index.ts"),
        ("src/Player.cs", "csharp", "src/Player.cs"),
        ("", "", None),
        ("{.python}", "python", None),
    ],
)
def test_info_strings(info: str, language: str, name: str | None) -> None:
    """The info string gives the language and, in several forms, the file name."""
    (block,) = extract_blocks(f"```{info}\nx = 1\n```\n")
    assert (block.language, block.name) == (language, name)


@pytest.mark.parametrize(
    "first_line",
    ["# file: a/b.py", "// File: a/b.py", "-- filename: a/b.py", "<!-- path: a/b.py -->"],
)
def test_marker_line(first_line: str) -> None:
    """A `file:` comment on the first line names the block and is removed."""
    (block,) = extract_blocks(f"```\n{first_line}\nbody\n```")
    assert block.name == "a/b.py"
    assert block.content == "body\n"


def test_longer_fence_holds_a_shorter_one() -> None:
    """A four-backtick block may contain a three-backtick one (CommonMark)."""
    (block,) = extract_blocks("````markdown README.md\n```python\nx\n```\n````\n")
    assert block.name == "README.md"
    assert block.content == "```python\nx\n```\n"


def test_tilde_fence_and_indentation() -> None:
    """Tilde fences and fences indented up to three spaces count."""
    blocks = extract_blocks("~~~go\npackage main\n~~~\n   ```c\nint x;\n   ```\n")
    assert [(b.language, b.content) for b in blocks] == [
        ("go", "package main\n"),
        ("c", "int x;\n"),
    ]


def test_unclosed_block_is_kept_and_marked() -> None:
    """A reply cut inside a block keeps what arrived, marked not closed."""
    (block,) = extract_blocks("```python app.py\ndef f():\n    return")
    assert block.closed is False
    assert block.content == "def f():\n    return\n"


def test_inline_backticks_are_not_fences() -> None:
    """A line like ```x``` (code span) opens no block."""
    assert extract_blocks("Use ```x``` inline.\n```not a fence``` either\n") == []


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("src/app.py", "src/app.py"),
        ("/etc/passwd", "etc/passwd"),
        ("../../secret.txt", "secret.txt"),
        ("a/../../b.py", "a/b.py"),
        ("C:\\Users\\me\\x.cs", "Users/me/x.cs"),
        ("~/.bashrc", ".bashrc"),
        ("./a//b.py", "a/b.py"),
        ("..", None),
        ("/", None),
        ("bad\x00name.py", None),
        ("x" * 300 + ".py", None),
    ],
)
def test_safe_relative_path(name: str, safe: str | None) -> None:
    """Absolute paths, drives, `..` and control characters cannot escape the folder."""
    assert safe_relative_path(name) == safe


@given(st.text(alphabet=st.sampled_from(["a", ".", "/", "\\", ":", "~", "C", " ", "\n"])))
def test_safe_paths_never_escape(name: str) -> None:
    """Whatever the model writes, a safe path is relative and free of `..` parts."""
    path = safe_relative_path(name)
    if path is not None:
        assert not path.startswith("/")
        parts = path.split("/")
        assert ".." not in parts
        assert "." not in parts
        assert "" not in parts
        assert not posixpath.isabs(path)
        assert "\\" not in path
        assert "\n" not in path


def test_plan_files_names_unnamed_blocks_after_the_step() -> None:
    """Unnamed blocks become <step>.<ext>, <step>_2.<ext>; empty blocks are skipped."""
    blocks = [
        CodeBlock(language="python", name=None, content="a = 1\n"),
        CodeBlock(language="csharp", name=None, content="class A {}\n"),
        CodeBlock(language="rust", name=None, content="  \n"),
        CodeBlock(language="", name=None, content="notes\n"),
        CodeBlock(language="python", name="build.py", content="b = 2\n"),
    ]
    planned = plan_files(blocks, stem="build")
    assert [p.path for p in planned] == ["build.py", "build_2.py", "build_3.cs", "build_4.txt"]
    assert planned[0].content == "b = 2\n"  # the named block keeps its name; others number on


def test_plan_files_later_block_wins() -> None:
    """When two blocks name the same file, the later one is written, in the first one's place."""
    blocks = [
        CodeBlock(language="python", name="app.py", content="v1\n"),
        CodeBlock(language="python", name="util.py", content="u\n"),
        CodeBlock(language="python", name="./app.py", content="v2\n"),
    ]
    planned = plan_files(blocks, stem="s")
    assert [(p.path, p.content) for p in planned] == [("app.py", "v2\n"), ("util.py", "u\n")]


def test_plan_files_records_the_unsafe_name() -> None:
    """A name made safe keeps the original as `requested`."""
    (planned,) = plan_files(
        [CodeBlock(language="python", name="../../evil.py", content="x\n")], stem="s"
    )
    assert (planned.path, planned.requested) == ("evil.py", "../../evil.py")


def test_plan_files_named_only() -> None:
    """With unnamed=False, only named blocks become files."""
    blocks = extract_blocks(REPLY)
    planned = plan_files(blocks, stem="docs", unnamed=False)
    assert [p.path for p in planned] == [
        "src/movement.py",
        "tests/test_movement.py",
        "Assets/Scripts/Player.cs",
        "docs/usage.md",
    ]


@pytest.mark.parametrize(
    ("language", "extension"),
    [
        ("python", "py"),
        ("csharp", "cs"),
        ("cs", "cs"),
        ("C#", "cs"),
        ("TypeScript", "ts"),
        ("cobol", "txt"),
        ("", "txt"),
    ],
)
def test_extension_for(language: str, extension: str) -> None:
    """Languages map to extensions; unknown ones to txt."""
    assert extension_for(language) == extension
