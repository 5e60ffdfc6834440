"""Python source to the model, with the standard library's ``ast`` (the code never runs).

Signatures are rebuilt from the syntax tree (annotations, defaults,
positional-only and keyword-only markers, ``*args``/``**kwargs``), so what
the docs show is what the source says, without importing anything. A syntax
error makes the file a fatal problem with its line: Python cannot recover
part of a module the way tree-sitter recovers C#.
"""

from __future__ import annotations

import ast
import re

import attrs

from ._docstrings import PythonDoc, parse_docstring
from ._model import Doc, Member, Module, Parameter, SourceProblem, Type

_SNIPPET_LINES = 40
_VALUE_LIMIT = 80
_DATACLASS = re.compile(r"(^|\.)(dataclass|define|frozen|mutable|attrs|s|dataclasses?)(\(|$)")
_ENUM_BASES = {"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"}
_PROPERTY = {"property", "cached_property", "functools.cached_property", "abc.abstractproperty"}
_CONSTANT = re.compile(r"^_*[A-Z][A-Z0-9_]*$")


def parse_python(source: bytes, name: str) -> Module:
    """Parse one Python file; a syntax error gives a fatal module with the error's line."""
    try:
        tree = ast.parse(source, filename=name)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 1
        message = getattr(exc, "msg", None) or str(exc)
        return Module(
            source=name,
            language="python",
            fatal=True,
            problems=(SourceProblem(line=line, message=f"syntax error: {message}"),),
        )
    reader = _Reader(lines=source.decode("utf-8", errors="replace").splitlines())
    exports = _exports(tree)
    types: list[Type] = []
    members: list[Member] = []
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.ClassDef):
            types += reader.class_(node, outer=None, exports=exports)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if not _is_overload(node):
                function = reader.function(node, kind="function", method=False)
                members.append(_exported(function, exports))
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for variable in reader.variables(node, _next(tree.body, index), module=True):
                if variable.name == "__all__":
                    continue
                listed = exports is not None and variable.name in exports
                if listed or variable.kind == "constant" or isinstance(node, ast.AnnAssign):
                    members.append(_exported(variable, exports))
    return Module(
        source=name,
        language="python",
        doc=parse_docstring(ast.get_docstring(tree)).doc,
        types=tuple(types),
        members=tuple(members),
        exports=exports,
    )


def _next(body: list[ast.stmt], index: int) -> ast.stmt | None:
    return body[index + 1] if index + 1 < len(body) else None


def _exports(tree: ast.Module) -> tuple[str, ...] | None:
    """``__all__`` when it is a literal list or tuple of strings (also ``+=``), else None."""
    names: list[str] | None = None
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            target, value = node.target, node.value
        if not (isinstance(target, ast.Name) and target.id == "__all__"):
            continue
        if isinstance(value, ast.List | ast.Tuple):
            found = [e.value for e in value.elts if isinstance(e, ast.Constant)]
            strings = [s for s in found if isinstance(s, str)]
            names = [*(names or []), *strings] if isinstance(node, ast.AugAssign) else strings
    return tuple(names) if names is not None else None


def _visibility(name: str) -> str:
    if name.startswith("__") and name.endswith("__"):
        return "special"
    return "private" if name.startswith("_") else "public"


def _exported(member: Member, exports: tuple[str, ...] | None) -> Member:
    """Module-level names missing from a defined ``__all__`` are not public API."""
    if exports is None or member.visibility != "public" or member.name in exports:
        return member
    return attrs.evolve(member, visibility="unexported")


def _is_overload(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(ast.unparse(d).rsplit(".", 1)[-1] == "overload" for d in node.decorator_list)


def _unparse(node: ast.expr | None) -> str:
    return "" if node is None else ast.unparse(node)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


@attrs.define
class _Reader:
    """Builds model objects from ast nodes; holds the source lines for snippets."""

    lines: list[str]

    def snippet(self, node: ast.stmt) -> str:
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)])
        end = node.end_lineno or node.lineno
        chosen = self.lines[start - 1 : min(end, start - 1 + _SNIPPET_LINES)]
        if end - start + 1 > _SNIPPET_LINES:
            chosen.append("    ...")
        return "\n".join(chosen)

    # -- classes ---------------------------------------------------------------

    def class_(
        self, node: ast.ClassDef, *, outer: str | None, exports: tuple[str, ...] | None
    ) -> list[Type]:
        name = f"{outer}.{node.name}" if outer else node.name
        decorators = tuple(ast.unparse(d) for d in node.decorator_list)
        bases = tuple(ast.unparse(b) for b in node.bases)
        kind = _class_kind(decorators, bases)
        parsed = parse_docstring(ast.get_docstring(node))
        init = next(
            (
                n
                for n in node.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "__init__"
            ),
            None,
        )
        doc = parsed.doc
        parameters: tuple[Parameter, ...] = ()
        if init is not None:
            parameters = _parameters(init.args, skip_first=True)
            doc = _merge_init_doc(doc, parse_docstring(ast.get_docstring(init)).doc)
        members: list[Member] = []
        nested: list[Type] = []
        setters: set[str] = set()
        for index, child in enumerate(node.body):
            if isinstance(child, ast.ClassDef):
                nested += self.class_(child, outer=name, exports=None)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                if child is init or _is_overload(child):
                    continue
                accessor = _accessor_of(child)
                if accessor is not None:
                    setters.add(accessor)
                    continue
                members.append(self.function(child, kind="method", method=True))
            elif isinstance(child, ast.Assign | ast.AnnAssign):
                following = _next(node.body, index)
                for variable in self.variables(child, following, module=False, class_kind=kind):
                    members.append(_described(variable, parsed))
        members = [
            attrs.evolve(m, modifiers=(*m.modifiers, "settable"))
            if m.kind == "property" and m.name in setters
            else m
            for m in members
        ]
        if init is None and kind == "dataclass":
            parameters = _dataclass_parameters(node)
        visibility = _visibility(node.name)
        if outer is None and exports is not None and visibility == "public":
            visibility = "public" if node.name in exports else "unexported"
        signature = f"class {node.name}"
        if parameters:
            signature += f"({_render_parameters(parameters)})"
        elif bases:
            signature += f"({', '.join(bases)})"
        return [
            Type(
                name=name,
                kind=kind,
                signature=signature,
                line=node.lineno,
                visibility=visibility,
                attributes=decorators,
                bases=bases,
                parameters=parameters,
                doc=doc,
                members=tuple(members),
                snippet=self.snippet(node),
            ),
            *nested,
        ]

    # -- functions -------------------------------------------------------------

    def function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, *, kind: str, method: bool
    ) -> Member:
        decorators = tuple(ast.unparse(d) for d in node.decorator_list)
        plain = {d.rsplit(".", 1)[-1] for d in decorators}
        modifiers: list[str] = []
        if isinstance(node, ast.AsyncFunctionDef):
            modifiers.append("async")
        for word in ("classmethod", "staticmethod"):
            if word in plain:
                modifiers.append(word)
        if "abstractmethod" in plain:
            modifiers.append("abstract")
        parsed = parse_docstring(ast.get_docstring(node))
        returns = _unparse(node.returns)
        if method and any(d in _PROPERTY for d in decorators):
            return Member(
                name=node.name,
                kind="property",
                signature=f"{node.name}: {returns}" if returns else node.name,
                line=node.lineno,
                visibility=_visibility(node.name),
                modifiers=tuple(m for m in modifiers if m == "abstract"),
                attributes=decorators,
                type=returns,
                doc=parsed.doc,
                snippet=self.snippet(node),
            )
        skip_first = method and "staticmethod" not in plain
        parameters = _parameters(node.args, skip_first=skip_first)
        prefix = "async def" if "async" in modifiers else "def"
        signature = f"{prefix} {node.name}({_render_parameters(parameters)})"
        if returns:
            signature += f" -> {returns}"
        return Member(
            name=node.name,
            kind=kind,
            signature=signature,
            line=node.lineno,
            visibility=_visibility(node.name),
            modifiers=tuple(modifiers),
            attributes=decorators,
            type=returns,
            parameters=parameters,
            doc=parsed.doc,
            snippet=self.snippet(node),
        )

    # -- variables -------------------------------------------------------------

    def variables(
        self,
        node: ast.Assign | ast.AnnAssign,
        following: ast.stmt | None,
        *,
        module: bool,
        class_kind: str = "",
    ) -> list[Member]:
        """Names assigned by ``node``; a string right after it is their docstring."""
        doc = Doc()
        if (
            isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            doc = parse_docstring(following.value.value).doc
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        annotation = _unparse(node.annotation) if isinstance(node, ast.AnnAssign) else ""
        value = _short(ast.unparse(node.value)) if node.value is not None else None
        found = []
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            kind, modifiers = _variable_kind(target.id, annotation, module, class_kind)
            if kind == "field" and value is not None and "field(" in value:
                value = _field_default(node.value)
            signature = f"{target.id}: {annotation}" if annotation else target.id
            if value is not None and kind not in ("field",):
                signature += f" = {value}"
            found.append(
                Member(
                    name=target.id,
                    kind=kind,
                    signature=signature,
                    line=node.lineno,
                    visibility=_visibility(target.id),
                    modifiers=modifiers,
                    type=annotation,
                    value=value,
                    doc=doc,
                    snippet=self.snippet(node),
                )
            )
        return found


def _variable_kind(
    name: str, annotation: str, module: bool, class_kind: str
) -> tuple[str, tuple[str, ...]]:
    class_var = annotation.startswith(("ClassVar", "typing.ClassVar"))
    if class_kind == "enum" and not annotation:
        return "enum member", ()
    if class_kind == "dataclass" and annotation and not class_var:
        return "field", ()
    if _CONSTANT.match(name) or annotation.startswith(("Final", "typing.Final")):
        return "constant", ()
    if module:
        return "variable", ()
    return "attribute", ("class variable",) if class_var else ()


def _class_kind(decorators: tuple[str, ...], bases: tuple[str, ...]) -> str:
    plain_bases = {b.split("[", 1)[0].rsplit(".", 1)[-1] for b in bases}
    if plain_bases & _ENUM_BASES:
        return "enum"
    if "Protocol" in plain_bases:
        return "protocol"
    if any(_DATACLASS.search(d) for d in decorators):
        return "dataclass"
    return "class"


def _accessor_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    """``@x.setter``/``@x.deleter`` functions belong to property ``x``."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Attribute) and decorator.attr in ("setter", "deleter"):
            return _unparse(decorator.value)
    return None


def _described(member: Member, parsed: PythonDoc) -> Member:
    """A class attribute without its own docstring takes the class docstring's entry."""
    if not member.doc.empty:
        return member
    text = dict(parsed.attributes).get(member.name) or parsed.doc.param(member.name)
    return attrs.evolve(member, doc=Doc(summary=text)) if text else member


def _merge_init_doc(class_doc: Doc, init_doc: Doc) -> Doc:
    """Constructor arguments may be documented on the class or on ``__init__``: use both."""
    known = {name for name, _ in class_doc.params}
    params = class_doc.params + tuple(p for p in init_doc.params if p[0] not in known)
    summary = class_doc.summary or init_doc.summary
    details = class_doc.details if class_doc.summary else init_doc.details
    raises = class_doc.raises + init_doc.raises
    return attrs.evolve(class_doc, summary=summary, details=details, params=params, raises=raises)


def _parameters(args: ast.arguments, *, skip_first: bool) -> tuple[Parameter, ...]:
    positional = [*args.posonlyargs, *args.args]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    defaults += args.defaults
    found: list[Parameter] = []
    for index, (arg, default) in enumerate(zip(positional, defaults, strict=True)):
        if skip_first and index == 0:
            continue
        found.append(_parameter(arg, default))
        if args.posonlyargs and arg is args.posonlyargs[-1]:
            found.append(Parameter(name="/", modifier="/"))
    if args.vararg is not None:
        found.append(_parameter(args.vararg, None, modifier="*"))
    elif args.kwonlyargs:
        found.append(Parameter(name="*", modifier="*"))
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        found.append(_parameter(arg, kw_default))
    if args.kwarg is not None:
        found.append(_parameter(args.kwarg, None, modifier="**"))
    return tuple(found)


def _parameter(arg: ast.arg, default: ast.expr | None, *, modifier: str = "") -> Parameter:
    return Parameter(
        name=arg.arg,
        type=_unparse(arg.annotation),
        default=_short(ast.unparse(default)) if default is not None else None,
        modifier=modifier,
    )


def _render_parameters(parameters: tuple[Parameter, ...]) -> str:
    parts = []
    for p in parameters:
        if p.name in ("/", "*") and p.modifier == p.name:
            parts.append(p.name)
            continue
        text = f"{p.modifier}{p.name}"
        if p.type:
            text += f": {p.type}"
        if p.default is not None:
            text += f" = {p.default}" if p.type else f"={p.default}"
        parts.append(text)
    return ", ".join(parts)


def _dataclass_parameters(node: ast.ClassDef) -> tuple[Parameter, ...]:
    """The ``__init__`` a dataclass decorator writes: its annotated, non-ClassVar fields."""
    found = []
    for child in node.body:
        if not (isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name)):
            continue
        annotation = ast.unparse(child.annotation)
        if annotation.startswith(("ClassVar", "typing.ClassVar")):
            continue
        default = None
        if child.value is not None:
            if _field_call(child.value) and _keyword(child.value, "init") == "False":
                continue
            default = _field_default(child.value)
        found.append(Parameter(name=child.target.id, type=annotation, default=default))
    return tuple(found)


def _field_call(value: ast.expr) -> bool:
    return isinstance(value, ast.Call) and ast.unparse(value.func).rsplit(".", 1)[-1] in (
        "field",
        "attrib",
        "ib",
    )


def _keyword(call: ast.expr, name: str) -> str | None:
    if isinstance(call, ast.Call):
        for keyword in call.keywords:
            if keyword.arg == name:
                return ast.unparse(keyword.value)
    return None


def _field_default(value: ast.expr | None) -> str | None:
    """``field(default=3)`` -> ``3``; ``field(default_factory=list)`` -> ``<factory>``."""
    if value is None:
        return None
    if not _field_call(value):
        return _short(ast.unparse(value))
    default = _keyword(value, "default")
    if default is not None:
        return _short(default)
    if _keyword(value, "default_factory") is not None or _keyword(value, "factory") is not None:
        return "<factory>"
    return None
