"""C# XML documentation comments (``/// <summary>...``) to a :class:`Doc` in Markdown.

The comment text is parsed as XML so nested tags (``<see cref>``, ``<c>``,
``<paramref>``, ``<para>``, ``<list>``, ``<code>``) become Markdown instead of
leaking as tags. Authors often write invalid XML (a bare ``<`` in
``a < b``, an ``&``), so we escape those and retry, and as a last resort
strip the tags; a comment with no tags at all is taken as its summary, since
that is what its author meant.
"""

from __future__ import annotations

import re
import textwrap
import xml.etree.ElementTree as ET

from ._model import Doc

_PARAGRAPH = "\x00P\x00"
_CODE = re.compile(r"\x00C(\d+)\x00")
_BARE_AMP = re.compile(r"&(?!(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);)")
_BARE_LT = re.compile(r"<(?![A-Za-z/!?])")
_CREF_PREFIX = re.compile(r"^[TMPFEN!]:")
_BLOCKS = {"summary", "remarks", "returns", "value", "example"}


def comment_body(comments: list[str]) -> str:
    """The text of ``///`` lines (or one ``/** */`` block) without comment markers."""
    lines: list[str] = []
    for comment in comments:
        if comment.startswith("/**"):
            inner = comment[3:].removesuffix("*/")
            for line in inner.splitlines():
                stripped = line.strip()
                lines.append(stripped[1:] if stripped.startswith("*") else stripped)
        else:
            for line in comment.splitlines():
                text = line.strip().removeprefix("///")
                lines.append(text[1:] if text.startswith(" ") else text)
    return "\n".join(lines)


def is_doc_comment(text: str) -> bool:
    """``///`` lines and ``/** */`` blocks are documentation; ``//`` and ``/* */`` are not."""
    return (text.startswith("///") and not text.startswith("////")) or (
        text.startswith("/**") and not text.startswith("/**/")
    )


def parse_xml_doc(comments: list[str]) -> Doc:
    """Parse the doc comments that precede one declaration."""
    body = comment_body(comments).strip()
    if not body:
        return Doc()
    root = _parse(body)
    if root is None:
        return Doc(summary=_clean(re.sub(r"<[^>]+>", " ", body), []))
    return _doc_from(root)


def _parse(body: str) -> ET.Element | None:
    for text in (body, _BARE_LT.sub("&lt;", _BARE_AMP.sub("&amp;", body))):
        try:
            return ET.fromstring(f"<doc>{text}</doc>")
        except ET.ParseError:
            continue
    return None


def _doc_from(root: ET.Element) -> Doc:
    parts: dict[str, str] = {}
    params: list[tuple[str, str]] = []
    type_params: list[tuple[str, str]] = []
    raises: list[tuple[str, str]] = []
    see_also: list[str] = []
    inherited = False
    for element in root:
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if tag in _BLOCKS:
            text = _markdown(element)
            parts[tag] = f"{parts[tag]}\n\n{text}".strip() if tag in parts else text
        elif tag == "param":
            params.append((element.get("name", ""), _markdown(element)))
        elif tag == "typeparam":
            type_params.append((element.get("name", ""), _markdown(element)))
        elif tag == "exception":
            raises.append((_cref(element.get("cref", "")), _markdown(element)))
        elif tag == "inheritdoc":
            inherited = True
        elif tag == "seealso":
            see_also.append(_reference(element))
    summary = parts.get("summary", "")
    if not parts and not params and not inherited:
        # No known tags: plain text after ///, which the author meant as the summary.
        summary = _markdown(root)
    details = parts.get("remarks", "")
    if see_also:
        details = f"{details}\n\nSee also: {', '.join(see_also)}".strip()
    return Doc(
        summary=summary,
        details=details,
        params=tuple(params),
        type_params=tuple(type_params),
        returns=parts.get("returns") or parts.get("value", ""),
        raises=tuple(raises),
        example=parts.get("example", ""),
        inherited=inherited and not summary,
    )


def _markdown(element: ET.Element) -> str:
    """The element's content as Markdown: paragraphs kept, other whitespace collapsed."""
    codes: list[str] = []
    return _clean((element.text or "") + _inline(element, codes), codes)


def _clean(text: str, codes: list[str]) -> str:
    paragraphs = []
    for part in text.split(_PARAGRAPH):
        collapsed = re.sub(r"\s+", " ", part).strip()
        if collapsed:
            paragraphs.append(collapsed)
    joined = "\n\n".join(paragraphs)
    return _CODE.sub(lambda m: codes[int(m.group(1))], joined)


def _inline(element: ET.Element, codes: list[str]) -> str:
    """The element's children and their tails (its own leading text is the caller's)."""
    out: list[str] = []
    for child in element:
        out.append(_render(child, codes))
        out.append(child.tail or "")
    return "".join(out)


def _render(element: ET.Element, codes: list[str]) -> str:
    tag = element.tag.lower() if isinstance(element.tag, str) else ""
    if tag in ("see", "seealso"):
        return _reference(element)
    if tag in ("paramref", "typeparamref"):
        return f"`{element.get('name', '')}`"
    if tag == "code":
        code = textwrap.dedent(_all_text(element).strip("\n")).strip()
        return _block(codes, f"```csharp\n{code}\n```")
    if tag == "list":
        return _block(codes, _list(element, codes))
    if tag == "br":
        return _PARAGRAPH
    inner = (element.text or "") + _inline(element, codes)
    if tag == "c":
        return f"`{_one_line(inner)}`"
    if tag == "para":
        return f"{_PARAGRAPH}{inner}{_PARAGRAPH}"
    if tag in ("b", "strong"):
        return f"**{inner.strip()}**"
    if tag in ("i", "em"):
        return f"*{inner.strip()}*"
    if tag == "a":
        return _link(inner, element.get("href", ""))
    return inner


def _block(codes: list[str], text: str) -> str:
    """Stash text whose line breaks matter (code, lists); _clean puts it back as a paragraph."""
    codes.append(text)
    return f"{_PARAGRAPH}\x00C{len(codes) - 1}\x00{_PARAGRAPH}"


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _all_text(element: ET.Element) -> str:
    return "".join(element.itertext())


def _list(element: ET.Element, codes: list[str]) -> str:
    numbered = element.get("type", "bullet") == "number"
    lines: list[str] = []
    for index, item in enumerate(element.findall("item"), start=1):
        term = item.find("term")
        description = item.find("description")
        source = description if description is not None else item
        text = _one_line(_clean((source.text or "") + _inline(source, codes), codes))
        if term is not None:
            text = f"**{_one_line((term.text or '') + _inline(term, codes))}** — {text}"
        lines.append(f"{index}. {text}" if numbered else f"- {text}")
    return "\n".join(lines)


def _reference(element: ET.Element) -> str:
    text = _one_line(_all_text(element))
    if element.get("langword"):
        return f"`{element.get('langword')}`"
    if element.get("href"):
        return _link(text or element.get("href", ""), element.get("href", ""))
    cref = _cref(element.get("cref", ""))
    if text:
        return text
    return f"`{cref}`" if cref else ""


def _cref(cref: str) -> str:
    """``T:Ns.Inventory{T}`` -> ``Ns.Inventory<T>``: readable, as written in code."""
    return _CREF_PREFIX.sub("", cref).replace("{", "<").replace("}", ">")


def _link(text: str, href: str) -> str:
    text = _one_line(text) or href
    return f"[{text}]({href})" if href else text
