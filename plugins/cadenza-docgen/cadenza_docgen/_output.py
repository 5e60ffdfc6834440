"""Rendering the pages, writing them, and the step's JSON output.

With an output folder, each source file gets a page mirroring its path
(``Player/PlayerController.cs`` -> ``Player/PlayerController.md``) plus an
``index.md``; with ``one_file`` everything goes into ``index.md``. Without an
output folder nothing is written and each file's entry carries its Markdown
text instead of a path. Files that could not be parsed get no page; their
entries say why (``error``).

Paths inside the pages are never absolute (see ``_files``); the step's
output data does hold where things are on this machine: each file's
``path`` (the source read), ``dir`` (the step's folder), ``index`` and each
file's ``markdown`` (under ``dir``) and ``page`` (relative to ``dir``), so a
later step can find and copy them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from ._files import SourceFile, page_paths
from ._markdown import PageInfo, render_index, render_module, slug
from ._model import Module
from ._select import Counts, count

INDEX = "index.md"


@attrs.frozen(kw_only=True)
class Output:
    """Pages to write (relative path -> Markdown) and the step's output data."""

    pages: dict[str, str]
    data: dict[str, Any]


def build_output(
    modules: Sequence[Module],
    files: Sequence[SourceFile],
    *,
    title: str,
    one_file: bool,
    output_dir: Path | None,
    warnings: Sequence[str],
) -> Output:
    """Render everything and describe it; ``output_dir`` None means nothing will be written."""
    counts = [count(m) if not m.fatal else Counts() for m in modules]
    total = sum(counts, Counts())
    paths = page_paths(files)
    texts = [
        render_module(m, c) if not m.fatal else None for m, c in zip(modules, counts, strict=True)
    ]
    infos = []
    for module, counted, source in zip(modules, counts, files, strict=True):
        link, page = None, ""
        if not module.fatal:
            link = f"#{slug(f'`{source.path.name}`')}" if one_file else paths[source.path]
            page = "" if one_file else paths[source.path]
        infos.append(PageInfo(module=module, counts=counted, link=link, page=page))
    index = render_index(title, infos, total, warnings)
    pages: dict[str, str] = {}
    if one_file:
        sections = [
            render_module(m, c, level=2)
            for m, c in zip(modules, counts, strict=True)
            if not m.fatal
        ]
        pages[INDEX] = "\n".join([index, *sections])
    else:
        pages = {paths[f.path]: t for f, t in zip(files, texts, strict=True) if t is not None}
        pages[INDEX] = index
    entries = []
    for module, counted, source, text in zip(modules, counts, files, texts, strict=True):
        markdown: str | None = text
        if output_dir is not None:
            markdown = (
                None
                if module.fatal
                else str(output_dir / (INDEX if one_file else paths[source.path]))
            )
        page_name = None if module.fatal else (INDEX if one_file else paths[source.path])
        entries.append(
            {
                "source": module.source,
                "path": str(source.path),
                "language": module.language,
                "markdown": markdown,
                "page": page_name if output_dir is not None else None,
                "types": counted.types,
                "members": counted.members,
                "documented": counted.documented,
                "undocumented": counted.undocumented,
                "generated": counted.generated,
                "errors": [
                    f"line {p.line}: {p.message}" if p.line else p.message for p in module.problems
                ],
            }
        )
    data = {
        "files": entries,
        "index": str(output_dir / INDEX) if output_dir is not None else None,
        "dir": str(output_dir) if output_dir is not None else None,
        "coverage": None if total.coverage is None else round(total.coverage, 4),
        "documented": total.documented,
        "generated": total.generated,
        "total": total.total,
        "warnings": list(warnings),
    }
    return Output(pages=pages, data=data)


def write_pages(output_dir: Path, pages: dict[str, str]) -> None:
    """Write the pages under ``output_dir`` (blocking; run it in a thread)."""
    for relative, text in pages.items():
        path = output_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
