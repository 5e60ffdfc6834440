"""`cadenza plugin new`: the files it writes, the names in them, and its errors.

That each kind's output installs, passes its own tests and `mypy --strict` is
proven by `nox -s scaffold` (it needs pip installs); these tests stay fast.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import cadenza
from cadenza._cli._exit import ExitCode
from cadenza._cli._plugin_cmd import KINDS, PluginNames, hook_api_range, plugin, render
from cadenza._version import HOOK_API_VERSION

ROOT = Path(__file__).resolve().parents[1]
SCAFFOLD = ROOT / "core" / "cadenza" / "_cli" / "scaffold"
LEFTOVER = re.compile(r"\$\{?(?:name|ident|dist|package|cls|kind|hook)\b|PACKAGE")
"""A placeholder left as it was (``$${ENV}`` rightly renders as ``${ENV}``)."""


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(plugin, ["new", *args])
    return result.exit_code, result.output


def test_agent_plugin_is_the_default_and_lists_its_files(tmp_path: Path) -> None:
    """`plugin new ollama` writes cadenza-ollama/ as an agent plugin and prints every file."""
    code, out = invoke("ollama", "--dir", str(tmp_path))
    assert code == 0, out
    target = tmp_path / "cadenza-ollama"
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert written == [
        ".gitignore",
        "README.md",
        "cadenza_ollama/__init__.py",
        "cadenza_ollama/_agent.py",
        "cadenza_ollama/_options.py",
        "cadenza_ollama/py.typed",
        "pyproject.toml",
        "tests/conftest.py",
        "tests/fake_server.py",
        "tests/test_agent.py",
        "tests/test_conformance.py",
        "tests/test_plugin.py",
        "tests/test_workflow.py",
    ]
    assert all(f"  {name}\n" in out for name in written)
    assert "pip install -e '.[test]'" in out


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_placeholder_is_filled_in(kind: str) -> None:
    """No file or path of any kind keeps a `$placeholder` or the PACKAGE folder name."""
    files = render(PluginNames.parse("sticky-notes"), kind)
    left = {
        path: LEFTOVER.findall(text)
        for path, text in files.items()
        if LEFTOVER.search(path) or LEFTOVER.search(text)
    }
    assert left == {}


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_python_file_compiles_and_the_pyproject_parses(kind: str) -> None:
    """Each kind's modules and tests are valid Python, and its pyproject.toml valid TOML."""
    files = render(PluginNames.parse("sticky-notes"), kind)
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
    tomllib.loads(files["pyproject.toml"])


@pytest.mark.parametrize("kind", list(KINDS))
def test_pyproject_has_entry_point_kernel_range_and_test_extra(kind: str) -> None:
    """The entry point names the package; cadenza is required from this kernel up to 1."""
    project = tomllib.loads(render(PluginNames.parse("sticky-notes"), kind)["pyproject.toml"])
    assert project["project"]["name"] == "cadenza-sticky-notes"
    assert project["project"]["entry-points"]["cadenza"] == {"sticky_notes": "cadenza_sticky_notes"}
    assert f"cadenza>={cadenza.__version__},<1" in project["project"]["dependencies"]
    test_extra = project["project"]["optional-dependencies"]["test"]
    assert any(r.startswith("cadenza[testing]") for r in test_extra)
    assert any(r.startswith("mypy") for r in test_extra)
    assert project["tool"]["mypy"]["strict"] is True
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "cadenza_sticky_notes"
    ]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_package_declares_the_kernels_hook_api_and_its_hook(kind: str) -> None:
    """__init__.py sets CADENZA_HOOK_API to this kernel's range and implements the kind's hook."""
    init = render(PluginNames.parse("sticky-notes"), kind)["cadenza_sticky_notes/__init__.py"]
    assert f'CADENZA_HOOK_API = "{hook_api_range()}"' in init
    assert f"def {KINDS[kind]}(register" in init
    assert 'register("sticky_notes", ' in init


def test_hook_api_range_holds_this_kernel_and_stops_at_the_next_major() -> None:
    """The declared range admits HOOK_API_VERSION and refuses the next major version."""
    declared = SpecifierSet(hook_api_range())
    assert Version(HOOK_API_VERSION) in declared
    assert Version(f"{Version(HOOK_API_VERSION).major + 1}.0") not in declared


@pytest.mark.parametrize(
    ("given", "dist", "package", "cls"),
    [
        ("ollama", "cadenza-ollama", "cadenza_ollama", "Ollama"),
        ("sticky-router", "cadenza-sticky-router", "cadenza_sticky_router", "StickyRouter"),
        ("no_todo2", "cadenza-no_todo2", "cadenza_no_todo2", "NoTodo2"),
        ("cadenza-ollama", "cadenza-ollama", "cadenza_ollama", "Ollama"),
    ],
)
def test_names_derive_from_the_given_name(given: str, dist: str, package: str, cls: str) -> None:
    """NAME gives the distribution, package and class names; a cadenza- prefix is not doubled."""
    names = PluginNames.parse(given)
    assert (names.dist, names.package, names.cls) == (dist, package, cls)


@pytest.mark.parametrize("bad", ["My Agent", "2fast", "ollama!", "a--b", "cadenza-", ""])
def test_a_bad_name_is_refused_with_exit_2_and_nothing_written(tmp_path: Path, bad: str) -> None:
    """A name that cannot be a package exits 2, says what a name may hold, and writes nothing."""
    code, out = invoke(bad, "--dir", str(tmp_path))
    assert code == ExitCode.BAD_INPUT
    assert f"plugin name {bad!r} is not usable" in out
    assert "lower-case letters, digits" in out
    assert list(tmp_path.iterdir()) == []


def test_a_bad_name_gets_a_suggestion() -> None:
    """'My Agent' suggests 'my-agent'."""
    code, out = invoke("My Agent", "--dir", "unused")
    assert code == ExitCode.BAD_INPUT
    assert "Did you mean 'my-agent'?" in out


def test_an_existing_folder_with_files_is_left_alone(tmp_path: Path) -> None:
    """When cadenza-NAME/ already holds files, the command exits 2 and changes nothing."""
    target = tmp_path / "cadenza-ollama"
    target.mkdir()
    (target / "notes.txt").write_text("mine", encoding="utf-8")
    code, out = invoke("ollama", "--dir", str(tmp_path))
    assert code == ExitCode.BAD_INPUT
    assert "already exists and is not an empty folder; nothing was written" in out
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_an_empty_existing_folder_is_filled(tmp_path: Path) -> None:
    """An empty cadenza-NAME/ (made by `mkdir` or `git init`-less clone) is used."""
    (tmp_path / "cadenza-ollama").mkdir()
    code, out = invoke("ollama", "--dir", str(tmp_path))
    assert code == 0, out
    assert (tmp_path / "cadenza-ollama" / "pyproject.toml").is_file()


def test_a_missing_dir_is_created(tmp_path: Path) -> None:
    """--dir names a folder that does not exist yet: it is created."""
    code, out = invoke("ollama", "--kind", "router", "--dir", str(tmp_path / "a" / "b"))
    assert code == 0, out
    assert (tmp_path / "a" / "b" / "cadenza-ollama" / "cadenza_ollama" / "_router.py").is_file()


def test_an_unknown_kind_is_a_usage_error(tmp_path: Path) -> None:
    """--kind executor is refused (exit 2) listing the kinds there are."""
    code, out = invoke("ollama", "--kind", "executor", "--dir", str(tmp_path))
    assert code == ExitCode.BAD_INPUT
    assert "'agent', 'router', 'aggregator', 'validator', 'store', 'observer'" in out


@pytest.mark.slow
def test_cli_refuses_a_bad_name_without_a_traceback(tmp_path: Path) -> None:
    """`cadenza plugin new 'My Agent'` prints one error line and exits 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", "plugin", "new", "My Agent"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == ExitCode.BAD_INPUT
    assert proc.stderr.startswith("Error: plugin name 'My Agent' is not usable")
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_cli_writes_the_plugin_in_the_working_directory(tmp_path: Path) -> None:
    """`cadenza plugin new ollama` run as a command writes ./cadenza-ollama and exits 0."""
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", "plugin", "new", "ollama", "--kind", "validator"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {Path('cadenza-ollama')}/ (validator plugin 'ollama'")
    assert (tmp_path / "cadenza-ollama" / "cadenza_ollama" / "_validator.py").is_file()


@pytest.mark.slow
def test_the_templates_are_in_the_wheel(tmp_path: Path) -> None:
    """The kernel's wheel carries every scaffold template, so an installed cadenza can use them."""
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    [wheel] = tmp_path.glob("cadenza-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = {n for n in archive.namelist() if n.startswith("cadenza/_cli/scaffold/")}
    expected = {
        "cadenza/_cli/scaffold/" + p.relative_to(SCAFFOLD).as_posix()
        for p in SCAFFOLD.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert packed == expected


def test_the_output_shown_in_the_cli_docs_is_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/cli.md shows exactly what `cadenza plugin new ollama` prints today."""
    section = (
        (ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split("## cadenza plugin new")[1]
    )
    block = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, _, shown = block.partition("\n")
    assert command == "$ cadenza plugin new ollama"
    monkeypatch.chdir(tmp_path)
    code, out = invoke("ollama")
    assert code == 0
    assert out == shown


def test_the_cli_docs_show_this_kernels_hook_api_range() -> None:
    """The range docs/cli.md says a new plugin declares is the one it does declare."""
    section = (
        (ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split("## cadenza plugin new")[1]
    )
    assert f"(`{hook_api_range()}`)" in section.split("\n## ", 1)[0]
