"""celpy's CEL parser, built from tables Lark keeps in the user's cache directory.

celpy builds its LALR parser from the CEL grammar the first time a process
compiles an expression: ~0.3 s of table construction, most of what ``cadenza
validate`` of a small file would otherwise cost. Lark can save a built
parser and load it back (``Lark.save``/``Lark.load``), so
:func:`install_cel_parser` gives celpy its parser singleton that way, built
with celpy's own options, before celpy would build it: only the first process
on a machine pays. The file's name holds a hash of celpy's grammar, the
options, and the versions of Lark and Python, so an upgrade never reads tables
it did not write; a damaged file is rebuilt.

The tables live in ``$XDG_CACHE_HOME/cadenza`` (``~/.cache/cadenza`` when
unset), made so only the user can write it, since Lark saves a pickle.
A new file is written under a unique name and renamed into place, so
processes starting together never read half a file. When the folder cannot be
made or written, the parser is built in memory, as celpy would.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import lark

__all__ = ["cache_file", "install_cel_parser"]


def cache_file() -> Path | None:
    """Where the tables are kept for this grammar, Lark and Python (None: no home folder)."""
    import lark

    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # the XDG spec: relative paths are ignored
        base = os.path.join(os.path.expanduser("~"), ".cache")
        if not os.path.isabs(base):  # no home folder to expand ~ to
            return None
    key = hashlib.sha256(
        "\0".join((_grammar(), _OPTIONS_VERSION, lark.__version__, sys.version)).encode()
    ).hexdigest()[:16]
    return Path(base) / "cadenza" / f"cel-parser-{key}.pickle"


def install_cel_parser() -> None:
    """Give celpy its parser, built from cached tables when possible (once per process)."""
    from celpy.celparser import CELParser

    if CELParser.CEL_PARSER is not None:
        return
    path = cache_file()
    if path is not None:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError:
            path = None
    CELParser.CEL_PARSER = _load(path) if path is not None else None
    if CELParser.CEL_PARSER is None:
        CELParser.CEL_PARSER = _build(path)


_OPTIONS_VERSION = "1"
"""Part of the cache key: change it when :func:`_build` passes Lark other options."""


def _grammar() -> str:
    import celpy

    return (Path(celpy.__file__).parent / "cel.lark").read_text(encoding="utf-8")


def _load(path: Path) -> lark.Lark | None:
    """The parser saved at ``path``; None when there is none or it cannot be read back."""
    import lark

    try:
        with path.open("rb") as f:
            return lark.Lark.load(f)
    except FileNotFoundError:
        return None
    except Exception:  # damaged or from an incompatible build: _build writes it anew
        return None


def _build(path: Path | None) -> lark.Lark:
    """Lark's parser with celpy's options (``celpy.celparser.CELParser.__init__``), saved at
    ``path`` under a temporary name first, so no process reads half a file."""
    import celpy
    import lark
    from celpy.celparser import CELParser

    parser = lark.Lark(
        _grammar(),
        parser="lalr",
        start="expr",
        debug=True,
        g_regex_flags=re.M,
        lexer_callbacks={"IDENT": CELParser.ambiguous_literals},
        propagate_positions=True,
        maybe_placeholders=False,
        priority="invert",
        tree_class=celpy.InterpretedRunner.tree_node_class,
    )
    if path is not None:
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            with partial.open("wb") as f:
                parser.save(f)
            os.replace(partial, path)
        except OSError:  # a full disk, a read-only folder: carry on without
            partial.unlink(missing_ok=True)
    return parser
