"""Reading workflow files: only regular files, and none bigger than the size limit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cadenza._problems import Problem
from cadenza._source_file import read_source
from cadenza._yaml import SIZE_LIMIT_VARIABLE

ROOT = Path(__file__).resolve().parents[1]
BAD = Path(__file__).resolve().parent / "data" / "bad"


def test_a_regular_file_is_read_with_its_digest(tmp_path: Path) -> None:
    """A small UTF-8 file comes back as text and the SHA-256 of its bytes."""
    path = tmp_path / "wf.yaml"
    path.write_text("steps: {}\n", encoding="utf-8")
    text, digest = read_source(path)  # type: ignore[misc]
    assert text == "steps: {}\n"
    assert len(digest) == 64


def test_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    """A FIFO is refused from its type: opening it would wait for a writer forever."""
    fifo = tmp_path / "wf.yaml"
    os.mkfifo(fifo)
    problem = read_source(fifo)
    assert isinstance(problem, Problem)
    assert (
        problem.message
        == f"cannot read workflow file {str(fifo)!r}: it is not a regular file (it is a named pipe)"
    )


def test_a_device_is_refused_before_reading() -> None:
    """``/dev/zero`` would read until memory runs out; it is refused as a device."""
    problem = read_source(Path("/dev/zero"))
    assert isinstance(problem, Problem)
    assert "it is not a regular file (it is a device)" in problem.message


def test_a_file_over_the_limit_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size is checked from the file's metadata, with the variable that raises it."""
    monkeypatch.setenv(SIZE_LIMIT_VARIABLE, "1000")
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * 2000 + b"\n")
    problem = read_source(path)
    assert isinstance(problem, Problem)
    assert problem.message == "the file is too large (2,003 bytes; the limit is 1,000 bytes)"
    assert problem.location is not None
    assert problem.location.file == str(path)
    assert SIZE_LIMIT_VARIABLE in problem.hint


def test_a_directory_is_refused(tmp_path: Path) -> None:
    """Passing a folder says so."""
    problem = read_source(tmp_path)
    assert isinstance(problem, Problem)
    assert problem.message.endswith("it is a directory")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["validate", "run", "graph", "simulate"])
@pytest.mark.parametrize("name", ["yaml_tag_bomb.yaml", "yaml_too_deep.yaml"])
def test_hostile_yaml_exits_2_from_every_command(command: str, name: str, tmp_path: Path) -> None:
    """Every command that reads a workflow refuses a tag bomb or a 500-level file with exit 2."""
    path = BAD / name
    args = [command, str(path)]
    if command == "run":
        args += ["--no-journal", "--no-progress"]
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{path}:" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_validate_refuses_special_files_with_exit_2(source: str, tmp_path: Path) -> None:
    """`cadenza validate` of /dev/zero or a FIFO ends at once with exit 2: no hang, no OOM."""
    if source == "fifo":
        source = str(tmp_path / "pipe.yaml")
        os.mkfifo(source)
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", "validate", source],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "not a regular file" in proc.stderr
