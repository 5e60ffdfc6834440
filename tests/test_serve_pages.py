"""The dashboard's page templates: every value escaped, lines joined without whitespace."""

from __future__ import annotations

import re

from cadenza._serve import _pages


def test_render_escapes_every_value_that_is_not_html() -> None:
    """A journal value goes into a template escaped; markup made by render goes in as it is."""
    row = _pages.render("missing.html", text='<script>"&')
    assert row == "<h1>&lt;script&gt;&quot;&amp;</h1>"
    assert _pages.render("run_graph.html", svg=row) == f'<div class="graph" id="graph">{row}</div>'


def test_every_template_placeholder_is_filled_by_the_pages() -> None:
    """Each template file is used by _pages, so none ships unused and none is missing."""
    source = (_pages.TEMPLATE_DIR.parent / "_pages.py").read_text(encoding="utf-8")
    used = set(re.findall(r'"([a-z_]+\.html)"', source))
    shipped = {p.name for p in _pages.TEMPLATE_DIR.glob("*.html")}
    assert used == shipped


def test_template_lines_join_without_whitespace() -> None:
    """A template may put one element on each line without adding whitespace to the page."""
    page = _pages.page("t", _pages.Html("<p>x</p>"), script=False)
    assert page.startswith('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">')
    assert "</header><main><p>x</p></main></body></html>\n" in page
