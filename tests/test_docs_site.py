"""mkdocs.yml: the documentation site's navigation matches the pages under docs/.

``nox -s docs`` builds the site with ``--strict`` (broken links and anchors
fail it); these checks need no MkDocs and catch what a strict build only
reports as information: a page left out of the navigation is unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
