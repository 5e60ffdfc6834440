"""The C# type scanner: top-level public types found, and split, whatever surrounds them."""

from __future__ import annotations

import keyword

from hypothesis import example, given, settings
from hypothesis import strategies as st

from cadenza_openai._csharp import code_only, declarations, public_types, split_types

TWO_CLASSES = """\
using UnityEngine;
using System.Collections;

namespace Game.Movement
{
    /// <summary>Tuning.</summary>
    [System.Serializable]
    public class PlayerMovementSettings
    {
        public string label = "public class Fake {";
        public char open = '{';
        // public class Commented { }
        public string verbatim = @"a "" } b";
        public string hole = $"{(ready ? "}" : "{")} class";
        public class Nested { }
    }

    internal class Helper { }

    /// <summary>Moves the player.</summary>
    [RequireComponent(typeof(Rigidbody))]
    public sealed class PlayerMovement<T> : MonoBehaviour where T : class
    {
        void Update() { }
    }

    public delegate void Jumped(int height);
}
"""


def test_public_top_level_types_only() -> None:
    """Nested, internal, commented and quoted 'classes' are not top-level public types."""
    assert public_types(TWO_CLASSES) == ["PlayerMovementSettings", "PlayerMovement"]
    kinds = [(d.kind, d.name, d.public) for d in declarations(TWO_CLASSES)]
    assert kinds == [
        ("class", "PlayerMovementSettings", True),
        ("class", "Helper", False),
        ("class", "PlayerMovement", True),
        ("", "", False),
    ]


def test_split_keeps_usings_namespace_attributes_and_docs() -> None:
    """Each part is a compilable file: its usings, its namespace, its attributes and doc comment."""
    (first, settings_code), (second, movement_code) = split_types(TWO_CLASSES)
    assert (first, second) == ("PlayerMovementSettings", "PlayerMovement")
    for code in (settings_code, movement_code):
        assert code.startswith("using UnityEngine;\nusing System.Collections;\n")
        assert "namespace Game.Movement\n{\n" in code
        assert code.endswith("}\n")
        assert code.count("{") - code.count("'{'") - 3 <= code.count("}")
    assert "[RequireComponent(typeof(Rigidbody))]" in movement_code
    assert "/// <summary>Moves the player.</summary>" in movement_code
    assert "PlayerMovementSettings" not in movement_code
    assert "Helper" not in movement_code
    assert "Jumped" not in movement_code
    assert "internal class Helper" in settings_code  # non-public items stay in the first part
    assert "public delegate void Jumped" in settings_code
    assert "class PlayerMovement<T>" not in settings_code
    assert "namespace Game.Movement\n{\n    /// <summary>Moves" in movement_code  # no gap


def test_file_scoped_namespace_records_structs_enums_interfaces() -> None:
    source = (
        "namespace Game;\n\n"
        "public record Point(int X, int Y);\n"
        "public readonly record struct Size(int W, int H);\n"
        "public enum Mode { Walk, Run }\n"
        "public interface IMover { void Move(); }\n"
        "public partial struct Cell { }\n"
        "public partial struct Cell { public int X; }\n"
    )
    assert public_types(source) == ["Point", "Size", "Mode", "IMover", "Cell"]
    parts = dict(split_types(source))
    assert parts["Point"] == "namespace Game;\n\npublic record Point(int X, int Y);\n"
    assert parts["Cell"].count("partial struct Cell") == 2  # partials stay together
    assert "Mode" not in parts["Cell"]


def test_raw_strings_preprocessor_and_verbatim_identifiers() -> None:
    source = (
        "#if UNITY_EDITOR\nusing UnityEditor;\n#endif\n"
        'public class A { string s = """\n  public class NotAType { }\n  """; }\n'
        "#region more\npublic class @event { }\n#endregion\n"
        "file class Hidden { }\n"
        '[assembly: System.Reflection.AssemblyVersion("1.0")]\n'
    )
    assert public_types(source) == ["A", "event"]
    a_code = dict(split_types(source))["A"]
    assert "[assembly:" in a_code
    assert "file class Hidden" in a_code
    assert "[assembly:" not in dict(split_types(source))["event"]


def test_one_or_no_public_type_is_left_whole() -> None:
    assert split_types("internal class A { }\n") == [("", "internal class A { }\n")]
    assert split_types("public class A { }\nclass B { }\n") == [
        ("A", "public class A { }\nclass B { }\n")
    ]


def test_cut_short_code_is_scanned_without_error() -> None:
    """A reply cut by max_tokens: the open class still counts, nothing raises."""
    source = 'using X;\npublic class A { void F() { var s = "unterminated\npublic class B { /* open'
    assert public_types(source) == ["A"]
    assert split_types(source) == [("A", source)]


def test_code_only_blanks_comments_and_strings() -> None:
    code = code_only('var a = "yield return"; // WaitForSeconds\n/* Time. */ int b;\n')
    assert "yield" not in code
    assert "WaitForSeconds" not in code
    assert "Time" not in code
    assert "var a =" in code
    assert "int b;" in code
    assert len(code) == len('var a = "yield return"; // WaitForSeconds\n/* Time. */ int b;\n')


# --- property: random noise around generated declarations never confuses the scan ---

RESERVED = {"class", "struct", "interface", "enum", "record", "namespace", "public", "file"}
names = st.from_regex(r"[A-Z][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda n: not keyword.iskeyword(n.lower()) and n.lower() not in RESERVED
)
noise = st.sampled_from(
    [
        '"public class Quoted { "',
        '@"}"" class V {"',
        '$"{(x ? "}" : "{")} class I"',
        "'{'",
        "'}'",
        "'\\''",
        "'\\\\'",
        "'\"'",
        "'\\u007B'",
        '"""\n public class Raw { }\n"""',
        "/* public class Block { */",
        "// public class Line {\n",
        "new[] { 1, 2 }",
    ]
)
attributes = st.sampled_from(
    ["", "[Serializable]\n", '[AddComponentMenu("Game/Thing")]\n', "[A, B(typeof(C))]\n"]
)
kinds = st.sampled_from(["class", "struct", "interface", "record", "enum", "record struct"])


@st.composite
def declaration(draw: st.DrawFn) -> tuple[str, bool, str]:
    """``(name, public, source)`` of one random top-level type."""
    name = draw(names)
    public = draw(st.booleans())
    kind = draw(kinds)
    generic = "<T>" if kind != "enum" and draw(st.booleans()) else ""
    doc = draw(st.sampled_from(["", "/// <summary>Doc.</summary>\n", "// note {\n"]))
    body_noise = " ".join(draw(st.lists(noise, max_size=3)))
    nested = draw(st.sampled_from(["", "public class Inner { }", "public enum E { A }"]))
    if kind == "enum":
        body = "{ A, B }"
    else:
        body = f"{{\n    object o = {body_noise or 'null'};\n    {nested}\n}}"
    modifier = "public " if public else draw(st.sampled_from(["", "internal "]))
    source = f"{doc}{draw(attributes)}{modifier}{kind} {name}{generic}\n{body}\n"
    return name, public, source


@settings(max_examples=100, deadline=None)
@example(  # found by this test: an escaped quote in a char literal ended the scan's skip early
    decls=[("A", False, "class A\n{\n    object o = '\\'' '}';\n    public class Inner { }\n}\n")],
    wrapper="none",
    preamble=[],
)
@given(
    decls=st.lists(declaration(), min_size=1, max_size=5),
    wrapper=st.sampled_from(["none", "block", "file"]),
    preamble=st.lists(noise.filter(lambda n: n.startswith(("//", "/*"))), max_size=2),
)
def test_scan_and_split_find_exactly_the_generated_public_types(
    decls: list[tuple[str, bool, str]], wrapper: str, preamble: list[str]
) -> None:
    """The public types are found in order; each part holds exactly one of them, whole."""
    members = "\n".join(source for _, _, source in decls)
    head = "using UnityEngine;\n" + "\n".join(preamble) + "\n"
    if wrapper == "block":
        text = f"{head}namespace Game.Core\n{{\n{members}}}\n"
    elif wrapper == "file":
        text = f"{head}namespace Game.Core;\n{members}"
    else:
        text = head + members
    expected: list[str] = []
    for name, public, _ in decls:
        if public and name not in expected:
            expected.append(name)
    assert public_types(text) == expected
    parts = split_types(text)
    if len(expected) < 2:
        assert parts == [(expected[0] if expected else "", text)]
        return
    assert [name for name, _ in parts] == expected
    for name, code in parts:
        assert public_types(code) == [name]
        assert "using UnityEngine;" in code
        if wrapper != "none":
            assert "namespace Game.Core" in code
        for other, public, source in decls:
            if public and other == name:
                assert source.strip() in code
    everything = "".join(code for _, code in parts)
    for _, _, source in decls:
        assert source.strip() in everything
