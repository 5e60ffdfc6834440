"""Every Python example on the plugin author's pages passes ``mypy --strict``.

The examples (every ```python block but one-line synopses, see
tests/docs_code.py) are written out as modules and checked in one mypy run.
A block starting with ``\"\"\"cadenza_NAME: ...`` is the module ``cadenza_NAME``,
so other examples can import it as a reader would import that plugin; one
starting with ``# NAME.py`` is ``NAME``.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .docs_code import CodeBlock, examples

PAGES = ("hooks.md", "agent-protocol.md", "agents.md", "testing-plugins.md", "python-workflows.md")
NAMED = re.compile(r'\A(?:"""(cadenza_\w+):|#\s*(\w+)\.py\s*$)', re.MULTILINE)
ERROR = re.compile(r"^(\w+)\.py:(\d+):(?:\d+:)? (.*)$")
MYPY_INI = "[mypy]\nstrict = True\nwarn_unreachable = True\n"


def all_examples() -> list[CodeBlock]:
    return [block for page in PAGES for block in examples(page)]


def module_name(block: CodeBlock) -> str:
    """``cadenza_shout`` for the shout plugin's block, else one derived from page and line."""
    named = NAMED.match(block.text.lstrip())
    if named:
        return named.group(1) or named.group(2)
    return f"docs_{Path(block.page).stem.replace('-', '_')}_{block.line}"


def test_every_page_has_examples_that_parse() -> None:
    """Each page has examples, and each one is valid Python (a typo cannot make it a synopsis)."""
    for page in PAGES:
        assert examples(page), f"docs/{page} has no ```python example"
    for block in all_examples():
        try:
            ast.parse(block.text)
        except SyntaxError as exc:
            pytest.fail(f"{block.id}: the example is not Python: {exc}")


def test_example_module_names_are_unique() -> None:
    """No two examples claim the same module name, so imports between them are unambiguous."""
    names = [module_name(block) for block in all_examples()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.slow
def test_examples_pass_mypy_strict(tmp_path: Path) -> None:
    """One ``mypy --strict`` run over every example reports nothing."""
    where = {}
    for block in all_examples():
        name = module_name(block)
        (tmp_path / f"{name}.py").write_text(block.text, encoding="utf-8")
        where[name] = block
    (tmp_path / "mypy.ini").write_text(MYPY_INI, encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file=mypy.ini",
            f"--cache-dir={tmp_path / '.mypy_cache'}",
            "--no-error-summary",
            *sorted(f"{name}.py" for name in where),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    errors = []
    for line in result.stdout.splitlines():
        error = ERROR.match(line)
        if error and error.group(1) in where:
            block = where[error.group(1)]
            errors.append(
                f"docs/{block.page}:{block.line + int(error.group(2)) - 1}: {error.group(3)}"
            )
        else:
            errors.append(line)
    assert not errors, "\n".join(errors)
    assert result.returncode == 0, result.stderr
