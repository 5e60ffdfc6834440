"""Shared fixtures: a scratch copy of the sample sources.

Test modules find ``data/`` from their own ``__file__`` instead of importing
from here, so they work under any pytest import mode.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

BROKEN_PY = '''"""A module with a syntax error."""


def fine():
    """This one is fine."""


def broken(:
    pass
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the samples, plus a Python file with a syntax error (kept out of data/,
    where the repository's linters would trip over it), in a scratch folder."""
    root = tmp_path / "project"
    shutil.copytree(DATA, root)
    (root / "python" / "broken.py").write_text(BROKEN_PY, encoding="utf-8")
    return root
