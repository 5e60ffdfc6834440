"""mkdocs.yml and its hook: the site's navigation matches docs/, links out of docs/ work.

``nox -s docs`` builds the site with ``--strict`` (broken links and anchors
fail it). The nav checks need no MkDocs and catch what a strict build only
reports as information: a page left out of the navigation is unreachable.
The hook's checks run where MkDocs is installed (the docs group).
"""

from __future__ import annotations

import importlib.util
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def nav_pages(entries: Any) -> Iterator[str]:
    """Every page path the nav names, depth first."""
    if isinstance(entries, str):
        yield entries
    elif isinstance(entries, list):
        for entry in entries:
            yield from nav_pages(entry)
    elif isinstance(entries, dict):
        for value in entries.values():
            yield from nav_pages(value)


def site_config() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def test_every_page_is_in_the_nav() -> None:
    """Each docs/*.md page appears in mkdocs.yml's nav, so the site links to it."""
    listed = set(nav_pages(site_config()["nav"]))
    pages = {p.name for p in DOCS.glob("*.md")}
    assert sorted(pages - listed) == [], "add these pages to the nav in mkdocs.yml"


def test_every_nav_entry_is_a_page() -> None:
    """Each page the nav names exists under docs/, once."""
    listed = list(nav_pages(site_config()["nav"]))
    assert sorted(p for p in listed if not (DOCS / p).is_file()) == []
    assert sorted({p for p in listed if listed.count(p) > 1}) == []


def test_the_build_fetches_nothing() -> None:
    """The theme loads no web fonts, so the strict build and the site work offline."""
    config = site_config()
    assert config["theme"]["name"] == "material"
    assert config["theme"]["font"] is False
    assert config["strict"] is True


def outside_links() -> Any:
    """docs/_hooks/outside_links.py, the MkDocs hook (needs MkDocs: the docs group)."""
    pytest.importorskip("mkdocs", reason="MkDocs is in the docs dependency group (nox -s docs)")
    path = DOCS / "_hooks" / "outside_links.py"
    spec = importlib.util.spec_from_file_location("_cadenza_outside_links", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rewrite(src_uri: str, markdown: str) -> str:
    page = types.SimpleNamespace(file=types.SimpleNamespace(src_uri=src_uri))
    config = {"docs_dir": str(DOCS)}
    result: str = outside_links().on_page_markdown(markdown, page, config, files=None)
    return result


def test_a_link_out_of_docs_goes_to_the_copy_under_repo() -> None:
    """``../benchmarks/README.md`` from a docs page becomes the site's repo/ copy."""
    text = "See [the benchmarks](../benchmarks/README.md#results) and [routing](routing.md)."
    assert rewrite("index.md", text) == (
        "See [the benchmarks](repo/benchmarks/README.md#results) and [routing](routing.md)."
    )


def test_a_copied_readme_links_back_into_docs() -> None:
    """A plugin README's ``../../docs/hooks.md`` points at the hooks page of the site."""
    text = "[hooks](../../docs/hooks.md#cadenza_routers)"
    assert rewrite("repo/plugins/cadenza-openai/README.md", text) == (
        "[hooks](../../../hooks.md#cadenza_routers)"
    )


def test_links_in_code_blocks_and_missing_targets_stay_as_written() -> None:
    """Code blocks are left alone, and a missing target is not rewritten (the build reports it)."""
    text = "```md\n[x](../benchmarks/README.md)\n```\n[gone](../no/such/file.md)\n"
    assert rewrite("index.md", text) == text
