"""Reading the reference pages' code: Python blocks of docs/*.md, and signatures from hookspecs.py.

A ```python block is either an *example* (complete code, checked by the docs
tests) or a *synopsis*: one call or signature shown for reference, such as
``def cadenza_routers(register: Register) -> None`` or
``listed_plugins(*names) -> dict[str, dict]``, which is only read.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import attrs

from cadenza import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HOOKSPECS_PY = Path(hookspecs.__file__)

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
SYNOPSIS = re.compile(r"(?:async\s+)?(?:def\s+)?[\w.]+\(.*\)(?:\s*->\s*\S.*)?", re.DOTALL)


@attrs.frozen
class CodeBlock:
    """One ```python block of a docs page; ``line`` is its first code line."""

    page: str
    line: int
    text: str

    @property
    def is_synopsis(self) -> bool:
        """One call or signature for reference (continuation lines indented), not code to run."""
        text = self.text.strip()
        continued = all(line[:1] in (" ", "") for line in text.splitlines()[1:])
        return continued and SYNOPSIS.fullmatch(text) is not None

    @property
    def id(self) -> str:
        return f"docs/{self.page}:{self.line}"


def python_blocks(page: str, text: str | None = None) -> list[CodeBlock]:
    """The ```python blocks of ``docs/<page>`` (or of ``text``, a part of it), in order."""
    if text is None:
        text = (DOCS / page).read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group(1) == "python":
            line = text.count("\n", 0, match.start(2)) + 1
            found.append(CodeBlock(page, line, match.group(2)))
    return found


def examples(page: str, text: str | None = None) -> list[CodeBlock]:
    """The example blocks of a page (or part of one): every ```python block but synopses."""
    return [block for block in python_blocks(page, text) if not block.is_synopsis]


def _param(arg: ast.arg, default: ast.expr | None) -> str:
    """One parameter, PEP 8 style: ``name: T = default`` (``ast.unparse`` writes ``T=default``)."""
    text = arg.arg if arg.annotation is None else f"{arg.arg}: {ast.unparse(arg.annotation)}"
    if default is not None:
        text += " = " if arg.annotation is not None else "="
        text += ast.unparse(default)
    return text


def parameters(args: ast.arguments, *, skip_self: bool = False) -> str:
    """A parameter list as one would write it: ``name: str, /, *, flag: bool = True``."""
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    parts = [_param(arg, default) for arg, default in zip(positional, defaults, strict=True)]
    if args.posonlyargs:
        parts.insert(len(args.posonlyargs), "/")
    if args.vararg is not None:
        parts.append(f"*{_param(args.vararg, None)}")
    elif args.kwonlyargs:
        parts.append("*")
    parts += [_param(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    if args.kwarg is not None:
        parts.append(f"**{_param(args.kwarg, None)}")
    if skip_self:
        parts = parts[1:]
    return ", ".join(parts)


def _is_hookspec(node: ast.FunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name) and target.id == "hookspec":
            return True
    return False


def _module() -> ast.Module:
    return ast.parse(HOOKSPECS_PY.read_text(encoding="utf-8"))


def hook_signatures() -> dict[str, str]:
    """Each hookspec's typed signature as written in hookspecs.py: ``def name(p: T) -> None``."""
    return {
        node.name: f"def {node.name}({parameters(node.args)}) -> {ast.unparse(node.returns)}"
        for node in _module().body
        if isinstance(node, ast.FunctionDef) and node.returns is not None and _is_hookspec(node)
    }


def register_protocols() -> dict[str, str]:
    """Each ``Register*`` protocol of hookspecs.py and its call: ``register(name: str) -> None``."""
    found = {}
    for node in _module().body:
        if isinstance(node, ast.ClassDef) and node.name.startswith("Register"):
            (call,) = [
                n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__call__"
            ]
            returns = ast.unparse(call.returns) if call.returns is not None else "None"
            found[node.name] = f"register({parameters(call.args, skip_self=True)}) -> {returns}"
    return found
