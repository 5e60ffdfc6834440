"""``cadenza plugin new``: write a new plugin distribution that passes its own tests at once.

The templates are package data under ``scaffold/``: ``common/`` holds the files
every plugin gets (pyproject.toml, .gitignore, py.typed, the entry-point test)
and ``<kind>/`` the code, tests and README of one kind. In a template's path
``PACKAGE`` stands for the package directory and a ``.tmpl`` suffix is dropped
(the text is then filled in by :class:`string.Template`: ``$name``, and ``$$``
for a literal dollar sign); other files are copied as they are.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import attrs
import click

from .._version import HOOK_API_VERSION, __version__
from ._exit import ExitCode

KINDS: dict[str, str] = {
    "agent": "cadenza_agent_kinds",
    "router": "cadenza_routers",
    "aggregator": "cadenza_aggregators",
    "validator": "cadenza_validators",
    "store": "cadenza_stores",
    "observer": "cadenza_observers",
}
"""Each kind ``--kind`` takes, with the hook its plugin implements."""

_DESCRIPTIONS = {
    "agent": "Cadenza agent kind '{ident}', for a model server that speaks JSON over HTTP.",
    "router": "Cadenza routing strategy '{ident}'.",
    "aggregator": "Cadenza aggregation strategy '{ident}'.",
    "validator": "Cadenza result validator '{ident}'.",
    "store": "Cadenza journal store for '{ident}://' URLs.",
    "observer": "Cadenza run observer '{ident}': posts each run's summary to a webhook.",
}

_DEPENDENCIES = {
    "agent": ("attrs>=24.2", "httpx>=0.28,<1"),
    "store": ("attrs>=24.2",),
    "observer": ("attrs>=24.2", "httpx>=0.28,<1"),
}
"""What each kind's code imports besides cadenza."""

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_PREFIXES = ("cadenza-", "cadenza_")
_TEMPLATE_SUFFIX = ".tmpl"


class ScaffoldError(click.ClickException):
    """Bad input to ``cadenza plugin new`` (exit 2): a bad name, or a folder in the way."""

    exit_code = int(ExitCode.BAD_INPUT)


@attrs.frozen(kw_only=True)
class PluginNames:
    """The names one plugin goes by, from the NAME given on the command line."""

    name: str
    """As given, without a ``cadenza-`` prefix: ``my-agent``."""

    @property
    def ident(self) -> str:
        """The entry-point name and the name it registers: ``my_agent``."""
        return self.name.replace("-", "_")

    @property
    def dist(self) -> str:
        return f"cadenza-{self.name}"

    @property
    def package(self) -> str:
        return f"cadenza_{self.ident}"

    @property
    def cls(self) -> str:
        """The prefix of its class names: ``MyAgent``."""
        return "".join(part.capitalize() for part in self.ident.split("_"))

    @classmethod
    def parse(cls, raw: str) -> PluginNames:
        """Check NAME; raise :class:`ScaffoldError` saying what is wrong and what would do."""
        name = raw.strip()
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        if not _NAME.fullmatch(name):
            suggestion = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            suggestion = re.sub(r"^[0-9-]+", "", suggestion)
            hint = f" Did you mean '{suggestion}'?" if suggestion else ""
            raise ScaffoldError(
                f"plugin name {raw!r} is not usable: a name is lower-case letters, digits and "
                "single '-' or '_' between them, starting with a letter (e.g. 'ollama', "
                f"'sticky-router'); it becomes the distribution cadenza-NAME.{hint}"
            )
        return cls(name=name)

    def placeholders(self, kind: str) -> dict[str, str]:
        """What ``$name`` in a template stands for."""
        requirements = (f"cadenza>={__version__},<1", *_DEPENDENCIES.get(kind, ()))
        return {
            "name": self.name,
            "ident": self.ident,
            "dist": self.dist,
            "package": self.package,
            "cls": self.cls,
            "kind": kind,
            "hook": KINDS[kind],
            "hook_api": hook_api_range(),
            "kernel_version": __version__,
            "description": _DESCRIPTIONS[kind].format(ident=self.ident),
            "dependencies": "".join(f'    "{r}",\n' for r in requirements),
        }


def hook_api_range() -> str:
    """The ``CADENZA_HOOK_API`` range a new plugin declares: this kernel's major version."""
    major = int(HOOK_API_VERSION.split(".")[0])
    return f">={HOOK_API_VERSION},<{major + 1}"


def _templates(root: Traversable, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The relative paths of every file under ``root``, as tuples of parts, sorted."""
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            yield from _templates(entry, (*prefix, entry.name))
        else:
            yield (*prefix, entry.name)


def render(names: PluginNames, kind: str) -> dict[str, str]:
    """Every file of the new distribution, by its path relative to ``cadenza-NAME/``."""
    scaffold = resources.files("cadenza._cli").joinpath("scaffold")
    values = names.placeholders(kind)
    files: dict[str, str] = {}
    for part in ("common", kind):
        base = scaffold.joinpath(part)
        for parts in _templates(base):
            text = base.joinpath(*parts).read_text(encoding="utf-8")
            target = [names.package if p == "PACKAGE" else p for p in parts]
            if target[-1].endswith(_TEMPLATE_SUFFIX):
                target[-1] = target[-1].removesuffix(_TEMPLATE_SUFFIX)
                text = string.Template(text).substitute(values)
            if target[-1] == "gitignore":
                target[-1] = ".gitignore"
            files["/".join(target)] = text
    return files


def write_plugin(names: PluginNames, kind: str, parent: Path) -> Path:
    """Write the distribution into ``parent/cadenza-NAME/``; return that folder."""
    target = parent / names.dist
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(
            f"{target} already exists and is not an empty folder; nothing was written. "
            "Choose another NAME or --dir, or move it away first."
        )
    files = render(names, kind)  # every template is rendered before anything is written
    try:
        for relative, text in files.items():
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ScaffoldError(
            f"could not write {names.dist} in {parent}: {exc.strerror or exc}. "
            "Pass --dir with a folder you can write to."
        ) from exc
    return target


@click.group("plugin")
def plugin() -> None:
    """Create plugins: `cadenza plugin new NAME`."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(list(KINDS)),
    default="agent",
    show_default=True,
    help="What the plugin offers: an agent kind (calling an HTTP server), a routing "
    "or aggregation strategy, a validator, a journal store, or a run observer (a webhook "
    "notifier).",
)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="the working directory",
    help="The folder to create cadenza-NAME/ in (created if missing).",
)
def new(name: str, kind: str, parent: Path) -> None:
    """Write the plugin distribution cadenza-NAME/: code, tests, README, pyproject.

    It installs with `pip install -e './cadenza-NAME[test]'` and passes its own tests
    (`pytest`) and `mypy` (strict) at once.
    """
    names = PluginNames.parse(name)
    target = write_plugin(names, kind, parent)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    click.echo(f"wrote {target}/ ({kind} plugin '{names.ident}', {len(files)} files):")
    for file in files:
        click.echo(f"  {file}")
    click.echo(
        "next:\n"
        f"  cd {target}\n"
        "  pip install -e '.[test]'\n"
        "  pytest && mypy\n"
        f"  cadenza plugins            # lists '{names.ident}' as loaded"
    )
