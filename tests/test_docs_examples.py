"""The examples in docs/*.md work: workflows load, shown output is current, references are complete.

A ```yaml block whose first line is ``# cadenza: valid`` must load without
problems; one marked ``# cadenza: invalid`` must raise ``WorkflowError``.
Unmarked yaml blocks are fragments and are not checked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import attrs
import pytest
import yaml

import cadenza
from cadenza._cli._exit import ExitCode
from cadenza._events import EVENT_KINDS, Event
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import load_plugins

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

ENVIRON = {
    "REVIEW_API_KEY": "sk-docs-review-0001",
    "TEAM_ID": "team-docs-0002",
    "OPENAI_API_KEY": "sk-docs-openai-0003",
}
"""Every environment variable the valid examples reference."""

MARKER = re.compile(r"#\s*cadenza:\s*(\S+)\s*$")
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@attrs.frozen
class Block:
    """One fenced code block of a docs page."""

    page: str
    line: int
    lang: str
    text: str

    @property
    def marker(self) -> str | None:
        first = self.text.split("\n", 1)[0]
        match = MARKER.fullmatch(first.strip())
        return match.group(1) if match else None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: str | None = None, lang: str | None = None) -> list[Block]:
    """Fenced blocks of every docs page (or one), in order."""
    pages = [DOCS / page] if page else sorted(DOCS.glob("*.md"))
    out = []
    for path in pages:
        text = path.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            block = Block(path.name, line, match.group(1), match.group(2))
            if lang is None or block.lang == lang:
                out.append(block)
    return out


def marked(kind: str) -> list[Block]:
    return [b for b in blocks(lang="yaml") if b.marker == kind]


PLUGINS = load_plugins(entry_points=False)


def load_block(block: Block, *, environ: dict[str, str]) -> list[cadenza.LoadResult]:
    """Load every workflow of a block (a seed file may hold several)."""
    data = yaml.safe_load(block.text)
    names = list(data["workflows"]) if isinstance(data, dict) and "workflows" in data else [None]
    return [
        load_workflow_text(
            block.text,
            plugins=PLUGINS,
            filename=block.id,
            workflow=name,
            environ=environ,
        )
        for name in names
    ]


def sections(page: str) -> dict[str, str]:
    """Level-2 sections of a docs page, by heading."""
    text = (DOCS / page).read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_docs_have_marked_examples() -> None:
    """The pages this test guards exist and hold marked workflow examples."""
    pages = {b.page for b in marked("valid")}
    assert {"quickstart.md", "workflow-reference.md", "expressions.md", "agents.md"} <= pages
    assert marked("invalid")


def test_markers_are_spelt_right() -> None:
    """Every ``# cadenza:`` marker says valid or invalid (a typo would skip the check)."""
    wrong = [
        (b.id, b.marker) for b in blocks(lang="yaml") if b.marker not in (None, "valid", "invalid")
    ]
    assert wrong == []


@pytest.mark.parametrize("block", marked("valid"), ids=lambda b: b.id)
def test_valid_example_loads_without_warnings(block: Block) -> None:
    """A block marked valid loads with the built-in plugins, and draws no warning."""
    for result in load_block(block, environ=ENVIRON):
        assert result.warnings == (), [w.render() for w in result.warnings]


@pytest.mark.parametrize("block", marked("invalid"), ids=lambda b: b.id)
def test_invalid_example_is_rejected(block: Block) -> None:
    """A block marked invalid raises WorkflowError with at least one error."""
    with pytest.raises(cadenza.WorkflowError) as info:
        load_block(block, environ={})
    assert any(p.severity == "error" for p in info.value.problems)


def console_after(block: Block) -> tuple[str, str]:
    """The ```console block right after ``block``: its command line and its output."""
    later = [b for b in blocks(block.page) if b.line > block.line]
    assert later, f"no block after {block.id}"
    assert later[0].lang == "console", f"no console block right after {block.id}"
    command, _, output = later[0].text.partition("\n")
    return command.removeprefix("$ "), output


@pytest.mark.parametrize(
    "block",
    [b for b in marked("invalid") if b.page in ("workflow-reference.md", "expressions.md")],
    ids=lambda b: b.id,
)
def test_shown_validate_output_is_current(block: Block, tmp_path: Path) -> None:
    """The `cadenza validate` output printed under a broken example is what it prints today."""
    command, expected = console_after(block)
    args = command.split()
    assert args[:2] == ["cadenza", "validate"]
    (tmp_path / args[2]).write_text(block.text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ENVIRON}
    env["CADENZA_LOAD_PLUGINS"] = ""
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", *args[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == ExitCode.BAD_INPUT
    assert proc.stdout + proc.stderr == expected


def test_every_exit_code_is_in_the_cli_table() -> None:
    """docs/cli.md has a table row `| code | NAME |` for each ExitCode."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    for code in ExitCode:
        row = re.compile(rf"^\|\s*{int(code)}\s*\|\s*`{code.name}`\s*\|", re.MULTILINE)
        assert row.search(text), f"docs/cli.md has no exit-code row for {int(code)} {code.name}"


def test_every_event_kind_has_a_section_listing_its_fields() -> None:
    """docs/events.md has a ``## kind`` section per event, naming every field of it."""
    found = sections("events.md")
    base = {f.name for f in attrs.fields(Event)}
    for kind, cls in EVENT_KINDS.items():
        assert kind in found, f"docs/events.md has no section '## {kind}'"
        for field in attrs.fields(cls):
            if field.name not in base:
                assert f"`{field.name}`" in found[kind], f"{kind}: field {field.name} undocumented"
    for name in base:
        assert f"`{name}`" in found["Fields every event has"]


def test_no_event_section_names_a_missing_kind() -> None:
    """Every snake_case section of docs/events.md is an event kind that exists."""
    documented = {h for h in sections("events.md") if re.fullmatch(r"[a-z]+(_[a-z]+)+", h)}
    assert documented == set(EVENT_KINDS)


PYTEST_INI = """\
[pytest]
trio_mode = true
filterwarnings = error
"""


def test_testing_plugins_examples_pass(pytester: pytest.Pytester) -> None:
    """Each ```python block of docs/testing-plugins.md is a test module that passes."""
    examples = blocks("testing-plugins.md", lang="python")
    modules = [b for b in examples if "def test_" in b.text]
    assert len(modules) >= 4
    pytester.makeini(PYTEST_INI)
    for i, block in enumerate(modules):
        pytester.makepyfile(**{f"test_doc_example_{i}": textwrap.dedent(block.text)})
    tests = sum(len(re.findall(r"^(?:async )?def test_", b.text, re.MULTILINE)) for b in modules)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=tests)
