"""MkDocs hook: pages link to files outside docs/ (plugin READMEs, examples, benchmarks).

The Markdown under docs/ is read in two places: on the code host, where a
relative link such as ``../benchmarks/README.md`` opens the file beside the
docs, and on the built site, where nothing outside docs/ exists. Rather than
link to one host's URLs, the site carries those files: every file outside
docs/ that a page links to (and, transitively, that such a README links to)
is added under ``repo/`` at its repository path (Markdown as a page, anything
else copied as is), and links are rewritten to it. A link to a folder goes to
its README.md. A target that does not exist is left alone, so ``mkdocs build
--strict`` still fails on it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

PREFIX = "repo/"
# [text](target) and [text]: target; the target stops at whitespace, ')' or '#'.
LINK = re.compile(r"(\]\(\s*|^\[[^\]]+\]:\s*)([^)\s#]+)(#[^)\s]*)?", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def _root(config: Any) -> Path:
    return Path(config["docs_dir"]).resolve().parent


def _repo_path(src_uri: str) -> str:
    """Where a site file lives in the repository (docs pages are under docs/)."""
    return src_uri[len(PREFIX) :] if src_uri.startswith(PREFIX) else "docs/" + src_uri


def _is_relative(target: str) -> bool:
    return not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^/", target)


def _resolve(root: Path, page_repo_path: str, target: str) -> str | None:
    """The repository path a relative link points at, or None when it is inside docs/ or absent."""
    path = posixpath.normpath(posixpath.join(posixpath.dirname(page_repo_path), target))
    if path.startswith("../") or path.startswith("docs/"):
        return None
    if (root / path).is_dir() and (root / path / "README.md").is_file():
        path = posixpath.join(path, "README.md")
    return path if (root / path).is_file() else None


def _targets(markdown: str) -> list[str]:
    text = FENCE.sub("", markdown)
    return [m.group(2) for m in LINK.finditer(text) if _is_relative(m.group(2))]


def on_files(files: Files, config: Any) -> Files:
    """Add every file outside docs/ that the pages link to, at repo/<its path>."""
    root = _root(config)
    seen: set[str] = set()
    pending = [
        (_repo_path(f.src_uri), Path(f.abs_src_path or "")) for f in files.documentation_pages()
    ]
    while pending:
        repo_path, abs_path = pending.pop()
        if abs_path.suffix != ".md":
            continue
        for target in _targets(abs_path.read_text(encoding="utf-8")):
            found = _resolve(root, repo_path, target)
            if found is None or found in seen:
                continue
            seen.add(found)
            files.append(File.generated(config, PREFIX + found, abs_src_path=str(root / found)))
            pending.append((found, root / found))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Point links at files outside docs/ to their copies under repo/, and back into docs/."""
    root = _root(config)
    here = page.file.src_uri
    repo_path = _repo_path(here)

    def rewrite(match: re.Match[str]) -> str:
        lead, target, fragment = match.group(1), match.group(2), match.group(3) or ""
        if not _is_relative(target):
            return match.group(0)
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), target))
        if resolved.startswith("docs/") and here.startswith(PREFIX):
            site = resolved[len("docs/") :]
        else:
            found = _resolve(root, repo_path, target)
            if found is None:
                return match.group(0)
            site = PREFIX + found
        return lead + posixpath.relpath(site, posixpath.dirname(here) or ".") + fragment

    # Keep code blocks as written: split around them and rewrite only prose.
    parts, last = [], 0
    for fence in FENCE.finditer(markdown):
        parts.append(LINK.sub(rewrite, markdown[last : fence.start()]))
        parts.append(fence.group(0))
        last = fence.end()
    parts.append(LINK.sub(rewrite, markdown[last:]))
    return "".join(parts)
