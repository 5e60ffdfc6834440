"""C# XML doc comments to Markdown text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza_docgen._xmldoc import comment_body, is_doc_comment, parse_xml_doc


def test_summary_params_returns_and_inline_tags() -> None:
    """<see cref>, <c>, <paramref> and <see langword> become code spans; blocks become fields."""
    doc = parse_xml_doc(
        [
            "/// <summary>",
            '/// Moves by <paramref name="delta"/> using a',
            '/// <see cref="T:UnityEngine.CharacterController"/>.',
            "/// </summary>",
            '/// <param name="delta">World-space <c>Vector3</c> offset.</param>',
            '/// <returns><see langword="true"/> when it moved.</returns>',
            "/// <remarks>Call from <c>Update</c>.</remarks>",
        ]
    )
    assert doc.summary == "Moves by `delta` using a `UnityEngine.CharacterController`."
    assert doc.params == (("delta", "World-space `Vector3` offset."),)
    assert doc.returns == "`true` when it moved."
    assert doc.details == "Call from `Update`."


def test_multi_line_text_is_joined_and_paragraphs_kept() -> None:
    """Line breaks inside a tag are spaces; <para> starts a new paragraph."""
    doc = parse_xml_doc(
        [
            "/// <summary>",
            "/// First line",
            "///   continues here.",
            "/// <para>Second paragraph.</para>",
            "/// </summary>",
        ]
    )
    assert doc.summary == "First line continues here.\n\nSecond paragraph."


def test_generic_cref_is_shown_as_written_in_code() -> None:
    """``Inventory{T}`` in a cref is ``Inventory<T>``, as in C# source."""
    doc = parse_xml_doc(['/// <summary>Stored in an <see cref="Inventory{T}"/>.</summary>'])
    assert doc.summary == "Stored in an `Inventory<T>`."


def test_code_example_list_and_exception() -> None:
    """<code> is a fenced block, <list> a Markdown list, <exception> an entry with its cref."""
    doc = parse_xml_doc(
        [
            "/// <summary>Steps:",
            '/// <list type="number">',
            "/// <item><term>Load</term><description>read it</description></item>",
            "/// <item><description>use it</description></item></list></summary>",
            '/// <exception cref="ArgumentException">',
            '/// When <paramref name="x"/> is empty.</exception>',
            "/// <example><code>",
            "/// var bag = new Inventory&lt;Potion&gt;(8);",
            "/// </code></example>",
        ]
    )
    assert doc.summary == "Steps:\n\n1. **Load** — read it\n2. use it"
    assert doc.raises == (("ArgumentException", "When `x` is empty."),)
    assert doc.example == "```csharp\nvar bag = new Inventory<Potion>(8);\n```"


def test_invalid_xml_is_repaired_or_stripped() -> None:
    """A bare ``<`` or ``&`` in prose does not lose the comment."""
    doc = parse_xml_doc(["/// <summary>True when a < b && b > 0.</summary>"])
    assert doc.summary == "True when a < b && b > 0."
    broken = parse_xml_doc(["/// <summary>Unclosed <c>tag</summary>"])
    assert broken.summary == "Unclosed tag"


def test_text_without_tags_is_the_summary() -> None:
    """``/// Moves the player.`` is what its author meant as the summary."""
    assert parse_xml_doc(["/// Moves the player."]).summary == "Moves the player."


def test_inheritdoc_is_marked() -> None:
    """<inheritdoc/> leaves the text empty but marks the doc as inherited (not empty)."""
    doc = parse_xml_doc(["/// <inheritdoc/>"])
    assert doc.inherited
    assert not doc.empty


def test_block_comments_and_regular_comments() -> None:
    """``/** */`` is documentation; ``//`` and ``/* */`` are not."""
    assert is_doc_comment("/// x")
    assert is_doc_comment("/** x */")
    assert not is_doc_comment("// x")
    assert not is_doc_comment("/* x */")
    assert not is_doc_comment("//// banner")
    assert comment_body(["/**\n * <summary>Block.</summary>\n */"]).strip() == (
        "<summary>Block.</summary>"
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=4))
def test_any_comment_text_parses_without_error(lines: list[str]) -> None:
    """Whatever an author typed after ``///``, parsing returns a Doc."""
    parse_xml_doc([f"/// {line}" for line in lines])
