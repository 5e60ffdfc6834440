"""Fenced code blocks in a model's reply, and the files they become.

Models name files in several ways; each is recognised, first match wins:

1. the fence's info string: ```` ```python src/app.py ````, ```` ```python:src/app.py ````,
   ```` ```python title="src/app.py" ```` (also ``file=``, ``filename=``, ``path=``),
   or just ```` ```src/app.py ```` (the language then comes from the extension);
2. a marker on the block's first line, removed from the content:
   ``# file: src/app.py``, ``// file: Player.cs``, ``-- file: q.sql``,
   ``<!-- file: index.html -->``, ``/* file: a.css */``;
3. a line right before the fence holding only a file name, decorated or not:
   ``**src/app.py**``, ```` `src/app.py`: ````, ``### File: src/app.py``.

Fences follow CommonMark: three or more backticks or tildes, closed by a
fence of the same character at least as long (so a four-backtick block can
hold a three-backtick one). A block still open when the reply ends (a reply
cut by ``max_tokens``) is kept, marked ``closed=False``.

Names come from a model and are untrusted: :func:`safe_relative_path` turns
them into relative paths with no ``..``, no absolute root or drive and no
control characters, and the writer checks again that each resolved path stays
inside the output folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

_OPEN = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>.*?)[ \t]*$")
_MARKER = re.compile(
    r"^\s*(?:#|//|--|;|%|'|<!--|/\*|\(\*)\s*(?:file(?:name)?|path)\s*:\s*(?P<name>\S.*?)"
    r"\s*(?:-->|\*/|\*\))?\s*$",
    re.IGNORECASE,
)
_NAME_ATTR = re.compile(
    r"""(?:^|\s)(?:title|file|filename|path)=(?:"(?P<dq>[^"]+)"|'(?P<sq>[^']+)'|(?P<bare>\S+))""",
    re.IGNORECASE,
)
_FILE_LIKE = re.compile(r"^[\w.\-/\\]*\w\.[A-Za-z0-9_+-]{1,12}$|^(?:Dockerfile|Makefile)$")
_HEADING_PREFIX = re.compile(r"^(?:file(?:name)?|path)\s*:\s*", re.IGNORECASE)

EXTENSIONS: dict[str, str] = {
    "python": "py",
    "py": "py",
    "python3": "py",
    "csharp": "cs",
    "cs": "cs",
    "c#": "cs",
    "javascript": "js",
    "js": "js",
    "jsx": "jsx",
    "typescript": "ts",
    "ts": "ts",
    "tsx": "tsx",
    "java": "java",
    "kotlin": "kt",
    "kt": "kt",
    "go": "go",
    "golang": "go",
    "rust": "rs",
    "rs": "rs",
    "c": "c",
    "h": "h",
    "cpp": "cpp",
    "c++": "cpp",
    "cxx": "cpp",
    "hpp": "hpp",
    "ruby": "rb",
    "rb": "rb",
    "php": "php",
    "swift": "swift",
    "scala": "scala",
    "lua": "lua",
    "r": "r",
    "dart": "dart",
    "gdscript": "gd",
    "hlsl": "hlsl",
    "glsl": "glsl",
    "shader": "shader",
    "shaderlab": "shader",
    "bash": "sh",
    "sh": "sh",
    "shell": "sh",
    "zsh": "sh",
    "powershell": "ps1",
    "ps1": "ps1",
    "bat": "bat",
    "sql": "sql",
    "html": "html",
    "css": "css",
    "scss": "scss",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "xml": "xml",
    "ini": "ini",
    "markdown": "md",
    "md": "md",
    "dockerfile": "dockerfile",
    "makefile": "mk",
    "text": "txt",
    "txt": "txt",
    "plaintext": "txt",
}
"""File extension (no dot) for a fence's language; unknown languages get ``txt``."""

LANGUAGES: dict[str, str] = {
    "py": "python",
    "cs": "csharp",
    "js": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "tsx": "typescript",
    "java": "java",
    "kt": "kotlin",
    "go": "go",
    "rs": "rust",
    "c": "c",
    "h": "c",
    "cpp": "cpp",
    "hpp": "cpp",
    "rb": "ruby",
    "php": "php",
    "swift": "swift",
    "lua": "lua",
    "gd": "gdscript",
    "sh": "bash",
    "ps1": "powershell",
    "sql": "sql",
    "html": "html",
    "css": "css",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "xml": "xml",
    "md": "markdown",
    "txt": "text",
}
"""Language of a named file without one in its fence, from its extension."""

_MAX_PATH = 255
_MAX_PART = 128


@attrs.frozen(kw_only=True)
class CodeBlock:
    """One fenced block: its language (lower case, ``""`` if none), its name as written."""

    language: str
    name: str | None
    content: str
    closed: bool = True


@attrs.frozen(kw_only=True)
class PlannedFile:
    """A block with the relative path it will be written to.

    ``requested`` is the name the model gave when it had to be changed (to be
    safe, ``../../etc/passwd`` -> ``etc/passwd``, or to follow the type the
    file declares, :mod:`._naming`), else None. ``named`` is False for a
    block the model did not name, whose path was made up from the step id.
    """

    path: str
    language: str
    content: str
    requested: str | None = None
    closed: bool = True
    named: bool = True


def extract_blocks(text: str) -> list[CodeBlock]:
    """Every fenced code block of ``text``, in order (see the module doc)."""
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        fence = match.group("fence") if match else ""
        if not match or (fence[0] == "`" and "`" in match.group("info")):
            i += 1
            continue
        language, name = _parse_info(match.group("info"))
        before = _previous_nonblank(lines, i)
        body: list[str] = []
        i += 1
        closed = False
        while i < len(lines):
            if _closes(lines[i], fence):
                closed = True
                i += 1
                break
            body.append(lines[i])
            i += 1
        if body and (marker := _MARKER.match(body[0])):
            name = name or marker.group("name").strip("`'\"")
            body = body[1:]
        if name is None and before is not None:
            name = _name_from_line(before)
        if name and not language:
            language = LANGUAGES.get(_extension(name), "")
        content = "\n".join(body)
        blocks.append(
            CodeBlock(
                language=language,
                name=name or None,
                content=content + "\n" if content else "",
                closed=closed,
            )
        )
    return blocks


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return (
        len(line) - len(line.lstrip(" ")) <= 3
        and len(stripped) >= len(fence)
        and set(stripped) == {fence[0]}
    )


def _parse_info(info: str) -> tuple[str, str | None]:
    """``(language, name)`` from a fence's info string."""
    if not info:
        return "", None
    name: str | None = None
    attr = _NAME_ATTR.search(info)
    if attr:
        name = attr.group("dq") or attr.group("sq") or attr.group("bare")
        info = (info[: attr.start()] + " " + info[attr.end() :]).strip()
    words = info.split()
    if not words:
        return "", name
    first = words[0].strip("{}.")
    if ":" in first and not first.startswith(("http:", "https:")):
        first, _, rest = first.partition(":")
        name = name or rest or None
    if _looks_like_file(first) and first.lower() not in EXTENSIONS:
        return "", name or first
    if name is None and len(words) > 1 and _looks_like_file(words[1]):
        name = words[1]
    return first.lower(), name


def _previous_nonblank(lines: Sequence[str], index: int) -> str | None:
    if index > 0 and lines[index - 1].strip():
        return lines[index - 1]
    return None


def _name_from_line(line: str) -> str | None:
    """A file name standing alone on ``line`` (``**app.py**``, ``### File: `a/b.cs`:``)."""
    text = line.strip().strip("#>*_ \t").rstrip(":").strip("*_` \t")
    text = _HEADING_PREFIX.sub("", text).strip("*_` \t").rstrip(":").strip("*_` \t")
    return text if _looks_like_file(text) else None


def _looks_like_file(word: str) -> bool:
    return bool(_FILE_LIKE.match(word))


def _extension(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def extension_for(language: str) -> str:
    """The file extension (no dot) for ``language``; ``txt`` when unknown."""
    return EXTENSIONS.get(language.lower(), "txt")


def safe_relative_path(name: str) -> str | None:
    """``name`` as a relative POSIX path that cannot leave its folder, or None if nothing is left.

    Backslashes count as separators; a leading ``/``, ``~`` or drive (``C:``)
    is dropped, as are ``.``, ``..`` and empty parts. A part holding a control
    character, or a path longer than 255 characters, gives None.
    """
    text = name.strip().strip("`'\"").replace("\\", "/")
    if re.match(r"^[A-Za-z]:", text):
        text = text[2:]
    parts: list[str] = []
    for part in text.split("/"):
        part = part.strip()
        if part in ("", ".", "..", "~"):
            continue
        if not part.isprintable() or len(part) > _MAX_PART:
            return None
        parts.append(part)
    path = "/".join(parts)
    return path if path and len(path) <= _MAX_PATH else None


def plan_files(
    blocks: Iterable[CodeBlock], *, stem: str, unnamed: bool = True
) -> list[PlannedFile]:
    """The files ``blocks`` become: named ones under their safe names, then unnamed ones.

    Unnamed blocks (taken only with ``unnamed=True``) are called
    ``<stem>.<ext>``, ``<stem>_2.<ext>``, ... by their language. Empty blocks
    are skipped. When two blocks name the same file, the later one wins (a
    model revising its answer) and keeps the earlier one's place.
    """
    planned: dict[str, PlannedFile] = {}
    anonymous: list[CodeBlock] = []
    for block in blocks:
        if not block.content.strip():
            continue
        path = safe_relative_path(block.name) if block.name else None
        if path is None:
            if unnamed:
                anonymous.append(block)
            continue
        requested = None if path == block.name.strip() else block.name  # type: ignore[union-attr]
        planned[path] = PlannedFile(
            path=path,
            language=block.language,
            content=block.content,
            requested=requested,
            closed=block.closed,
        )
    stem = safe_relative_path(stem.replace("/", "_")) or "reply"
    counter = 0
    for block in anonymous:
        while True:
            counter += 1
            suffix = "" if counter == 1 else f"_{counter}"
            path = f"{stem}{suffix}.{extension_for(block.language)}"
            if path not in planned:
                break
        planned[path] = PlannedFile(
            path=path,
            language=block.language,
            content=block.content,
            requested=block.name,
            closed=block.closed,
            named=False,
        )
    return list(planned.values())
