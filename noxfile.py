"""Development sessions: ``nox`` runs tests, lint, types, plugins, the example and the browser.

Each distribution is tested in its own virtualenv holding only what it
declares: the kernel alone (``tests``), and each plugin beside the kernel and
nothing else (``plugin``); ``legacy_plugins`` installs the plugins in
tests/legacy_plugins, written against the 0.1 docs, and runs their own tests
unchanged; ``scaffold`` writes a plugin of each kind with ``cadenza plugin
new`` and runs its own tests, mypy --strict and ruff; ``example`` runs the
Unity example with all three;
``browser`` drives the dashboard in the system's chromium (``apt-get install
chromium``). Without chromium ``browser`` is skipped with a notice, unless
``CADENZA_REQUIRE_BROWSER=1`` (``.ci/run`` sets it) makes that an error.
``docs`` builds the documentation site (mkdocs.yml) offline, warnings as errors.
Nothing else needs more than Python and pip. ``nox -s quick`` is the fast
local loop (not in the default run); ``nox -s bench`` (the performance suite)
is opt-in. Extra arguments reach pytest: ``nox -s tests -- -k retry``.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.parent.name for p in (ROOT / "plugins").glob("*/pyproject.toml"))
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")

nox.options.sessions = [
    "tests",
    "lint",
    "types",
    "plugin",
    "legacy_plugins",
    "scaffold",
    "example",
    "browser",
    "docs",
]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True


PYTEST = ["-q", "-p", "no:cacheprovider", "--timeout=600"]
"""Every pytest run: quiet, no cache files, and a hung test fails (with its stack) after 10 min."""


def _group(name: str) -> list[str]:
    return list(nox.project.dependency_groups(PYPROJECT, name))


def _has_group(pyproject: dict[str, Any], name: str) -> bool:
    return name in pyproject.get("dependency-groups", {})


def _chromium_helpers() -> ModuleType:
    """tests/browser/_chromium.py (standard library only), shared with the browser test."""
    path = ROOT / "tests" / "browser" / "_chromium.py"
    spec = importlib.util.spec_from_file_location("_cadenza_chromium", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@nox.session
def tests(session: nox.Session) -> None:
    """Kernel tests with no plugin installed, spread over every core (pytest-xdist)."""
    session.install("-e", ".", *_group("test"))
    session.run("pytest", "-n", "auto", *(session.posargs or PYTEST))


@nox.session
def quick(session: nox.Session) -> None:
    """The fast local loop: kernel tests except the slow (subprocess) ones, on every core.

    A test is ``@pytest.mark.slow`` when it runs the CLI in a subprocess or is a
    soak (the SIGKILL-and-resume trials); ``tests`` (and so CI) still runs them.

    ``nox -s quick``, then ``nox -Rs quick`` to skip reinstalling; arguments are
    added to pytest's: ``nox -Rs quick -- tests/test_retry.py -x``.
    """
    session.install("-e", ".", *_group("test"))
    session.run("pytest", "-n", "auto", "-m", "not slow", *PYTEST, *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: style, imports, bugbear and the ASYNC (trio) rules."""
    session.install(*_group("lint"))
    session.run("ruff", "check", "core", "tests", "benchmarks", "examples", "plugins", "noxfile.py")
    session.run("ruff", "format", "--check", "core", "tests", "benchmarks", "plugins", "noxfile.py")


@nox.session
def types(session: nox.Session) -> None:
    """mypy --strict on the kernel."""
    session.install("-e", ".", *_group("types"))
    session.run("mypy")


@nox.session
@nox.parametrize("plugin", PLUGINS or [None])
def plugin(session: nox.Session, plugin: str | None) -> None:
    """One plugin's tests and mypy --strict, installed beside the kernel and nothing else.

    Nothing else but its own ``test`` dependency group, when its pyproject.toml
    declares one: what its tests need and users do not (cadenza-openai's: the
    independent servers its compatibility tests start on loopback).
    """
    if plugin is None:
        session.skip("no plugins in plugins/ yet")
    path = ROOT / "plugins" / plugin
    own = nox.project.load_toml(path / "pyproject.toml")
    own_test = nox.project.dependency_groups(own, "test") if _has_group(own, "test") else ()
    session.install("-e", ".", "-e", str(path), *_group("test"), *own_test, "mypy>=1.13")
    session.run("pytest", str(path / "tests"), *PYTEST, *session.posargs)
    with session.chdir(path):
        session.run("mypy")


@nox.session
def legacy_plugins(session: nox.Session) -> None:
    """Plugins written against the 0.1 docs pass their own tests unchanged (tests/legacy_plugins).

    Each is installed as a user would (not editable) beside the kernel, then
    its tests run from its own folder, under its own pytest config: a
    DeprecationWarning is allowed there, any failure is the kernel breaking
    its promise to plugin authors.
    """
    legacy = sorted(p.parent for p in (ROOT / "tests" / "legacy_plugins").glob("*/pyproject.toml"))
    # Building in this venv, not one fresh venv per distribution, keeps the install ~20 s shorter.
    session.install("hatchling>=1.25", "editables")
    session.install(
        "--no-build-isolation",
        "-e",
        ".",
        *(f"{path}[test]" for path in legacy),
        "pytest-timeout>=2.3",
    )
    for path in legacy:
        with session.chdir(path):
            session.run("pytest", *PYTEST, *session.posargs)


SCAFFOLDS = {
    "agent": "ollama",
    "router": "sticky",
    "aggregator": "longest",
    "validator": "no-todo",
    "store": "jsonfile",
    "observer": "notify",
}
"""The plugin ``scaffold`` writes for each kind of ``cadenza plugin new --kind``."""


@nox.session
def scaffold(session: nox.Session) -> None:
    """`cadenza plugin new`, each kind: the output installs and passes pytest, mypy --strict, ruff.

    One venv serves every kind: the kernel with its testing extra, mypy and
    ruff go in once, then each new plugin with --no-deps (it needs nothing
    else) and --no-build-isolation, and its own checks run from its folder.
    """
    session.install("hatchling>=1.25", "editables")
    session.install(
        "--no-build-isolation", "-e", ".[testing]", "mypy>=1.13", "ruff>=0.8", "pytest-timeout>=2.3"
    )
    # Outside .nox/: ruff skips any folder below one named .nox.
    with tempfile.TemporaryDirectory(prefix="cadenza-scaffold-") as where:
        for kind, name in SCAFFOLDS.items():
            session.run("cadenza", "plugin", "new", name, "--kind", kind, "--dir", where)
            path = Path(where) / f"cadenza-{name}"
            session.install("--no-deps", "--no-build-isolation", "-e", str(path))
            with session.chdir(path):
                session.run("pytest", *PYTEST, *session.posargs)
                session.run("mypy", "--strict")
                session.run("ruff", "check", ".")
                session.run("ruff", "format", "--check", ".")
        # The folders go with the temporary directory: so do their editable installs.
        session.run(
            "python", "-m", "pip", "uninstall", "-y", *(f"cadenza-{n}" for n in SCAFFOLDS.values())
        )


@nox.session
def example(session: nox.Session) -> None:
    """The examples end to end, offline: the kernel with the three first-party plugins."""
    plugins = [arg for name in PLUGINS for arg in ("-e", str(ROOT / "plugins" / name))]
    session.install("-e", ".", *plugins, *_group("test"))
    session.run("pytest", "examples/unity-feature", "examples/seed", *PYTEST)


@nox.session
def browser(session: nox.Session) -> None:
    """The dashboard in the system's chromium, driven by Playwright (never `playwright install`).

    Skipped with a notice when no chromium is found (``$CHROMIUM``, else
    ``chromium`` or ``chromium-browser`` on PATH); an error instead when
    ``CADENZA_REQUIRE_BROWSER=1``, as in CI.
    """
    helpers = _chromium_helpers()
    chromium = helpers.find_chromium(os.environ)
    if chromium is None:
        notice = helpers.missing_notice(os.environ)
        if helpers.browser_required(os.environ):
            session.error(notice)
        session.skip(notice)
    session.install("-e", ".[dashboard]", *_group("test"), "playwright>=1.40")
    # chromium is found and Playwright installed: from here on, a missing one is a bug.
    env = {"CADENZA_BROWSER_TESTS": "1", "CHROMIUM": chromium, helpers.REQUIRE_VAR: "1"}
    session.run("pytest", "tests/browser", *PYTEST, *session.posargs, env=env)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (mkdocs.yml), built offline; any warning (a broken link) fails it.

    The theme fetches no fonts and no CDN assets; pages link to files outside
    docs/ through copies under ``repo/`` (docs/_hooks/outside_links.py). The
    site is written to ``site/``; ``nox -s docs -- serve`` previews it instead.
    """
    session.install("-e", ".", "pytest>=8", "pytest-trio>=0.8", *_group("docs"))
    env = {"NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner, not a build problem
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", *session.posargs[1:], env=env)
    else:
        # The build hook's own tests skip where MkDocs is missing (the tests session); here
        # MkDocs is installed, so they run.
        session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_docs_site.py")
        session.run("mkdocs", "build", "--strict", *session.posargs, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """The performance suite (not part of CI): kernel vs raw trio ratios."""
    session.install("-e", ".")
    session.run("python", "benchmarks/bench_scheduler.py", *session.posargs)
