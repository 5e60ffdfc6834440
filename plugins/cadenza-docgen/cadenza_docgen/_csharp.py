"""C# source to the model, with tree-sitter and the tree-sitter-c-sharp grammar.

tree-sitter recovers from syntax errors: a broken method body or a stray
token becomes an ``ERROR`` or missing node while the declarations around it
still parse, so we walk into ``ERROR`` nodes too and document what survived,
reporting each file's errors as problems instead of failing it. Declarations
inside ``#if``/``#elif``/``#else`` blocks are all documented (we cannot know
which symbols a build defines). Everything is recorded, private members
included; what is shown is decided later (``_select``), once cross-file facts
(Unity base classes, ``<inheritdoc/>`` targets) are known.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import attrs
import tree_sitter
import tree_sitter_c_sharp

from ._model import Doc, Member, Module, Parameter, SourceProblem, Type
from ._xmldoc import is_doc_comment, parse_xml_doc

_TYPE_KINDS = {
    "class_declaration": "class",
    "struct_declaration": "struct",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "record",
    "delegate_declaration": "delegate",
}
_CONTAINERS = {"preproc_if", "preproc_elif", "preproc_else", "ERROR"}
_BODIES = {"block", "accessor_list", "arrow_expression_clause", "declaration_list", ";"}
_ACCESS = ("public", "protected", "internal", "private")
_SNIPPET_LINES = 40
_MAX_PROBLEMS = 5


@functools.cache
def _language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_c_sharp.language())


def parse_csharp(source: bytes, name: str) -> Module:
    """Parse one C# file; syntax errors become :attr:`Module.problems`, never exceptions."""
    source = source.removeprefix(b"\xef\xbb\xbf")  # Unity's editors like writing a BOM
    tree = tree_sitter.Parser(_language()).parse(source)
    walker = _Walker(source=source)
    types = _merge_partials(walker.declarations(tree.root_node, namespace="", outer=None))
    return Module(
        source=name,
        language="csharp",
        types=tuple(types),
        problems=tuple(_problems(tree.root_node)),
    )


def _text(node: tree_sitter.Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def _one_line(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"([(\[]) ", r"\1", text)
    return re.sub(r" ([)\],])", r"\1", text)


def _line(node: tree_sitter.Node) -> int:
    return node.start_point.row + 1


@attrs.define
class _Walker:
    """Turns declaration nodes into model objects; holds the source for snippets."""

    source: bytes

    # -- types -----------------------------------------------------------------

    def declarations(
        self, node: tree_sitter.Node, *, namespace: str, outer: str | None
    ) -> list[Type]:
        """Types declared among ``node``'s children, nested types flattened after their parent."""
        found: list[Type] = []
        for child in node.children:
            kind = child.type
            if kind == "namespace_declaration":
                inner = _join(namespace, _text(child.child_by_field_name("name")))
                body = child.child_by_field_name("body")
                if body is not None:
                    found += self.declarations(body, namespace=inner, outer=outer)
            elif kind == "file_scoped_namespace_declaration":
                # Applies to the declarations that follow it, its siblings.
                namespace = _join(namespace, _text(child.child_by_field_name("name")))
            elif kind in _TYPE_KINDS:
                found += self.type(child, namespace=namespace, outer=outer)
            elif kind in _CONTAINERS:
                if kind == "ERROR":
                    namespace = _namespace_in_error(child) or namespace
                found += self.declarations(child, namespace=namespace, outer=outer)
        return found

    def type(self, node: tree_sitter.Node, *, namespace: str, outer: str | None) -> list[Type]:
        kind = _TYPE_KINDS[node.type]
        if node.type == "record_declaration" and any(c.type == "struct" for c in node.children):
            kind = "record struct"
        name = _text(node.child_by_field_name("name"))
        type_parameters = next((c for c in node.children if c.type == "type_parameter_list"), None)
        name += _one_line(_text(type_parameters)).replace(" ", "").replace(",", ", ")
        qualified = f"{outer}.{name}" if outer else name
        modifiers = _modifiers(node)
        visibility = _visibility(modifiers, default="private" if outer else "internal")
        doc = self.doc(node)
        parameters = self.parameters(node)
        members: list[Member] = []
        nested: list[Type] = []
        body = node.child_by_field_name("body")
        if body is None:  # records and enums name their bodies differently in older grammars
            body = next((c for c in node.children if c.type.endswith("declaration_list")), None)
        if kind.startswith("record") and parameters:
            members += self.record_properties(parameters, doc, _line(node))
        if body is not None:
            if kind == "enum":
                members += self.enum_members(body)
            else:
                members += self.members(body, in_interface=kind == "interface")
                nested += self.declarations(body, namespace=namespace, outer=qualified)
        return [
            Type(
                name=qualified,
                kind=kind,
                signature=self.signature(node),
                line=_line(node),
                namespace=namespace,
                visibility=visibility,
                modifiers=modifiers,
                attributes=_attributes(node),
                bases=_bases(node),
                parameters=parameters,
                doc=doc,
                members=tuple(members),
                snippet=self.snippet(node),
            ),
            *nested,
        ]

    # -- members ---------------------------------------------------------------

    def members(self, body: tree_sitter.Node, *, in_interface: bool) -> list[Member]:
        found: list[Member] = []
        default = "public" if in_interface else "private"
        for child in body.children:
            kind = child.type
            if kind in _CONTAINERS:
                found += self.members(child, in_interface=in_interface)
            elif kind in ("field_declaration", "event_field_declaration"):
                found += self.fields(child, default=default)
            elif kind in _MEMBER_KINDS:
                member = self.member(child, _MEMBER_KINDS[kind], default=default)
                if member is not None:
                    found.append(member)
        return found

    def member(self, node: tree_sitter.Node, kind: str, *, default: str) -> Member | None:
        modifiers = _modifiers(node)
        name = _text(node.child_by_field_name("name"))
        explicit = next(
            (c for c in node.children if c.type == "explicit_interface_specifier"), None
        )
        if explicit is not None:
            name = f"{_one_line(_text(explicit))}{name}"
        type_node = node.child_by_field_name("returns") or node.child_by_field_name("type")
        if kind == "indexer":
            name = "this[]"
        elif kind == "operator":
            name = self.operator_name(node)
        if not name:
            return None
        signature = self.signature(node)
        if kind in ("property", "indexer") or node.type == "event_declaration":
            signature = f"{signature} {_accessors(node)}".strip()
        value = None
        if kind == "property":
            value = _after_equals(node)
        return Member(
            name=name,
            kind=kind,
            signature=signature,
            line=_line(node),
            visibility=_visibility(modifiers, default=default),
            modifiers=modifiers,
            attributes=_attributes(node),
            type=_one_line(_text(type_node)),
            value=value,
            parameters=self.parameters(node),
            doc=self.doc(node),
            snippet=self.snippet(node),
        )

    def operator_name(self, node: tree_sitter.Node) -> str:
        if node.type == "conversion_operator_declaration":
            direction = next(
                (c.type for c in node.children if c.type in ("implicit", "explicit")), ""
            )
            return f"{direction} operator {_one_line(_text(node.child_by_field_name('type')))}"
        return f"operator {_text(node.child_by_field_name('operator'))}"

    def fields(self, node: tree_sitter.Node, *, default: str) -> list[Member]:
        """One member per declarator: ``public int a, b;`` documents ``a`` and ``b``."""
        declaration = next((c for c in node.children if c.type == "variable_declaration"), None)
        if declaration is None:
            return []
        kind = "event" if node.type == "event_field_declaration" else "field"
        modifiers = _modifiers(node)
        if kind == "field" and "const" in modifiers:
            kind = "constant"
        type_text = _one_line(_text(declaration.child_by_field_name("type")))
        prefix = " ".join([*modifiers, *(["event"] if kind == "event" else []), type_text])
        doc = self.doc(node)
        found = []
        for declarator in declaration.children:
            if declarator.type != "variable_declarator":
                continue
            name = _text(declarator.child_by_field_name("name"))
            value = _after_equals(declarator)
            signature = f"{prefix} {name}"
            if kind == "constant" and value is not None:
                signature += f" = {value}"
            found.append(
                Member(
                    name=name,
                    kind=kind,
                    signature=signature,
                    line=_line(declarator),
                    visibility=_visibility(modifiers, default=default),
                    modifiers=modifiers,
                    attributes=_attributes(node),
                    type=type_text,
                    value=value,
                    doc=doc,
                    snippet=self.snippet(node),
                )
            )
        return found

    def enum_members(self, body: tree_sitter.Node) -> list[Member]:
        found = []
        for child in body.children:
            if child.type in _CONTAINERS:
                found += self.enum_members(child)
            if child.type != "enum_member_declaration":
                continue
            name = _text(child.child_by_field_name("name"))
            value = _after_equals(child)
            found.append(
                Member(
                    name=name,
                    kind="enum member",
                    signature=f"{name} = {value}" if value else name,
                    line=_line(child),
                    attributes=_attributes(child),
                    value=value,
                    doc=self.doc(child),
                    snippet=self.snippet(child),
                )
            )
        return found

    def record_properties(
        self, parameters: tuple[Parameter, ...], doc: Doc, line: int
    ) -> list[Member]:
        """A positional record's parameters are public properties, documented by its <param>s."""
        return [
            Member(
                name=p.name,
                kind="property",
                signature=f"public {p.type} {p.name} {{ get; init; }}",
                line=line,
                type=p.type,
                doc=Doc(summary=doc.param(p.name)),
            )
            for p in parameters
        ]

    # -- pieces ----------------------------------------------------------------

    def doc(self, node: tree_sitter.Node) -> Doc:
        """Parse the ``///`` comments right above ``node`` (regular comments end the run)."""
        comments: list[str] = []
        sibling = node.prev_named_sibling
        while sibling is not None and sibling.type == "comment":
            text = _text(sibling)
            if not is_doc_comment(text):
                break
            comments.append(text)
            sibling = sibling.prev_named_sibling
        comments.reverse()
        return parse_xml_doc(comments) if comments else Doc()

    def signature(self, node: tree_sitter.Node) -> str:
        """The declaration from its first modifier to its body, on one line, without attributes."""
        parts = [c for c in node.children if c.type not in ("attribute_list", "comment")]
        start = next((c for c in parts), None)
        end = None
        for index, child in enumerate(node.children):
            field = node.field_name_for_child(index)
            if child.type in _BODIES or field in ("body", "value") or child.type == "=":
                break
            if child in parts:
                end = child
        if start is None or end is None:
            return ""
        return _one_line(self.source[start.start_byte : end.end_byte].decode("utf-8", "replace"))

    def parameters(self, node: tree_sitter.Node) -> tuple[Parameter, ...]:
        plist = node.child_by_field_name("parameters")
        if plist is None:
            plist = next((c for c in node.children if c.type == "parameter_list"), None)
        if plist is None:
            return ()
        found: list[Parameter] = []
        pending_params = False
        loose_type = ""
        for child in plist.children:
            if child.type == "parameter":
                found.append(_parameter(child))
            elif child.type == "params":
                # The grammar flattens `params T[] name` into the list itself.
                pending_params = True
            elif pending_params and child.type == "identifier" and loose_type:
                found.append(Parameter(name=_text(child), type=loose_type, modifier="params"))
                pending_params, loose_type = False, ""
            elif pending_params and child.is_named:
                loose_type = _one_line(_text(child))
        return tuple(found)

    def snippet(self, node: tree_sitter.Node) -> str:
        text = self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")
        lines = text.splitlines()
        if len(lines) > _SNIPPET_LINES:
            lines = [*lines[:_SNIPPET_LINES], "    // ..."]
        return "\n".join(lines)


_MEMBER_KINDS = {
    "property_declaration": "property",
    "method_declaration": "method",
    "constructor_declaration": "constructor",
    "event_declaration": "event",
    "indexer_declaration": "indexer",
    "operator_declaration": "operator",
    "conversion_operator_declaration": "operator",
}


def _parameter(node: tree_sitter.Node) -> Parameter:
    modifiers = [_text(c) for c in node.children if c.type == "modifier"]
    return Parameter(
        name=_text(node.child_by_field_name("name")),
        type=_one_line(_text(node.child_by_field_name("type"))),
        default=_after_equals(node),
        modifier=" ".join(modifiers),
    )


def _after_equals(node: tree_sitter.Node) -> str | None:
    """The initializer after ``=`` among ``node``'s children (``int x = 5``), or None."""
    seen = False
    for child in node.children:
        if seen and child.type != ";":
            return _one_line(_text(child))
        seen = seen or child.type == "="
    return None


def _accessors(node: tree_sitter.Node) -> str:
    """``{ get; private set; }`` without bodies; ``=> expr`` properties are ``{ get; }``."""
    accessors = node.child_by_field_name("accessors")
    if accessors is None:
        accessors = next((c for c in node.children if c.type == "accessor_list"), None)
    if accessors is None:
        return "{ get; }" if any(c.type == "arrow_expression_clause" for c in node.children) else ""
    parts = []
    for accessor in accessors.children:
        if accessor.type != "accessor_declaration":
            continue
        words = [_text(c) for c in accessor.children if c.type == "modifier"]
        words.append(_text(accessor.child_by_field_name("name")))
        parts.append(" ".join(words) + ";")
    return "{ " + " ".join(parts) + " }"


def _modifiers(node: tree_sitter.Node) -> tuple[str, ...]:
    return tuple(_text(c) for c in node.children if c.type == "modifier")


def _visibility(modifiers: tuple[str, ...], *, default: str) -> str:
    words = [m for m in modifiers if m in _ACCESS]
    return " ".join(words) if words else default


def _attributes(node: tree_sitter.Node) -> tuple[str, ...]:
    """Attributes as written (``Range(0f, 10f)``), targets kept (``field: SerializeField``)."""
    found = []
    for attribute_list in node.children:
        if attribute_list.type != "attribute_list":
            continue
        target = next(
            (c for c in attribute_list.children if c.type == "attribute_target_specifier"), None
        )
        prefix = _text(target.children[0]) + ": " if target is not None else ""
        for attribute in attribute_list.children:
            if attribute.type == "attribute":
                found.append(prefix + _one_line(_text(attribute)))
    return tuple(found)


def _bases(node: tree_sitter.Node) -> tuple[str, ...]:
    base_list = next((c for c in node.children if c.type == "base_list"), None)
    if base_list is None:
        return ()
    bases = []
    for child in base_list.children:
        if child.is_named and child.type not in ("argument_list", "comment"):
            bases.append(_one_line(_text(child)))
    return tuple(bases)


def _join(namespace: str, name: str) -> str:
    name = _one_line(name).replace(" ", "")
    return f"{namespace}.{name}" if namespace else name


def _namespace_in_error(node: tree_sitter.Node) -> str:
    """A ``namespace X {`` that tree-sitter folded into an ERROR node, or ``""``."""
    children = node.children
    for index, child in enumerate(children[:-1]):
        if child.type == "namespace" and children[index + 1].type in (
            "identifier",
            "qualified_name",
        ):
            return _one_line(_text(children[index + 1])).replace(" ", "")
    return ""


def _problems(root: tree_sitter.Node) -> Iterator[SourceProblem]:
    for count, node in enumerate(_error_nodes(root), start=1):
        if count > _MAX_PROBLEMS:
            return
        if node.is_missing:
            message = f"syntax error: missing {node.type!r}"
        else:
            near = _one_line(_text(node))[:40]
            message = f"syntax error near {near!r}" if near else "syntax error"
        yield SourceProblem(line=_line(node), message=message)


def _error_nodes(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    if node.type == "ERROR" or node.is_missing:
        yield node
        if node.type != "ERROR":
            return
    if node.has_error:
        for child in node.children:
            yield from _error_nodes(child)


def _merge_partials(types: list[Type]) -> list[Type]:
    """``partial`` parts of one type in one file become one type, at its first part."""
    merged: dict[str, Type] = {}
    order: list[str] = []
    for item in types:
        key = item.full_name
        if key in merged and "partial" in item.modifiers:
            first = merged[key]
            merged[key] = attrs.evolve(
                first,
                members=first.members + item.members,
                doc=first.doc if not first.doc.empty else item.doc,
                bases=first.bases + tuple(b for b in item.bases if b not in first.bases),
                attributes=first.attributes + item.attributes,
            )
            continue
        if key in merged:
            key = f"{key}@{item.line}"
        merged[key] = item
        order.append(key)
    return [merged[k] for k in order]
