"""Resolving the step's files, folders and globs; where pages go."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cadenza_docgen._files import MissingSourceError, SourceFile, find_sources, page_paths

BOTH = frozenset({"csharp", "python"})


def names(found: tuple[SourceFile, ...]) -> list[str]:
    return [f.name for f in found]


def test_folders_are_walked_in_order_skipping_generated_folders(project: Path) -> None:
    """Hidden, __pycache__ and Unity Library folders are not searched."""
    (project / "unity" / "Library").mkdir()
    (project / "unity" / "Library" / "Cached.cs").write_text("class Cached {}")
    (project / "python" / ".venv").mkdir()
    (project / "python" / ".venv" / "x.py").write_text("")
    found = find_sources(["unity", "python"], base_dir=project, languages=BOTH)
    assert names(found.files) == [
        "unity/Broken.cs",
        "unity/Items/Inventory.cs",
        "unity/Items/WeaponData.cs",
        "unity/Player/PlayerController.cs",
        "python/broken.py",
        "python/shop/inventory.py",
        "python/shop/pricing.py",
    ]
    assert found.warnings == ()


def test_globs_languages_exclude_and_duplicates(project: Path) -> None:
    """A glob and a file naming the same source give it once; exclude and languages filter."""
    found = find_sources(
        ["unity/**/*.cs", "unity/Broken.cs", "python"],
        base_dir=project,
        languages=frozenset({"csharp"}),
        exclude=["*/Items/*"],
    )
    assert names(found.files) == ["unity/Broken.cs", "unity/Player/PlayerController.cs"]


def test_absolute_paths_and_explicit_files_of_other_languages(
    project: Path, tmp_path: Path
) -> None:
    """Absolute entries work; a named file of another kind is skipped with a warning."""
    (project / "notes.txt").write_text("hi")
    found = find_sources(
        [str(project / "unity" / "Broken.cs"), "notes.txt", "nothing/*.cs"],
        base_dir=project,
        languages=BOTH,
    )
    assert names(found.files) == ["unity/Broken.cs"]
    assert found.warnings == (
        "notes.txt: skipped, not a .cs or .py file",
        "'nothing/*.cs' matched no files",
    )


def test_existing_paths_with_glob_characters_are_taken_literally(tmp_path: Path) -> None:
    """A for_each item's folder, ``build[0]``, is that folder, not a pattern matching build0."""
    item = tmp_path / "out" / "build[0]"
    item.mkdir(parents=True)
    (item / "Health.cs").write_text("public class Health {}")
    decoy = tmp_path / "out" / "build0"
    decoy.mkdir()
    (decoy / "Decoy.cs").write_text("public class Decoy {}")
    found = find_sources(
        ["out/build[0]", str(item / "Health.cs"), "out/build[0-9]"],
        base_dir=tmp_path,
        languages=BOTH,
    )
    assert names(found.files) == ["out/build[0]/Health.cs", "out/build0/Decoy.cs"]
    assert found.files[0].anchor == item.resolve()  # named below the folder given if outside
    assert found.warnings == ()


def test_missing_path_is_an_error(project: Path) -> None:
    """A typo must not silently produce empty docs."""
    with pytest.raises(MissingSourceError, match="no such file or folder: 'Asets'"):
        find_sources(["Asets"], base_dir=project, languages=BOTH)


def test_pages_mirror_the_sources_tree(project: Path) -> None:
    """Relative to the project root, not to the sources' common folder; a clash keeps the
    source extension."""
    (project / "unity" / "Player" / "PlayerController.py").write_text("")
    found = find_sources(["unity"], base_dir=project, languages=BOTH)
    pages = page_paths(found.files)
    assert sorted(pages.values()) == [
        "unity/Broken.md",
        "unity/Items/Inventory.md",
        "unity/Items/WeaponData.md",
        "unity/Player/PlayerController.cs.md",
        "unity/Player/PlayerController.py.md",
    ]


def test_names_are_relative_to_the_declared_root(project: Path) -> None:
    """With ``root``, names and pages are relative to it; ``exclude`` matches those names."""
    found = find_sources(
        ["unity"],
        base_dir=project,
        languages=BOTH,
        root=project / "unity",
        exclude=["Items/*"],
    )
    assert names(found.files) == ["Broken.cs", "Player/PlayerController.cs"]
    assert sorted(page_paths(found.files).values()) == ["Broken.md", "Player/PlayerController.md"]


def test_files_outside_the_root_are_named_after_the_folder_they_came_from(
    project: Path, tmp_path: Path
) -> None:
    """A folder, a glob and a single file outside the root: never an absolute name."""
    out = tmp_path / "elsewhere" / "out" / "u"
    (out / "generate_code" / "Sub").mkdir(parents=True)
    (out / "generate_code" / "Sub" / "Enemy.cs").write_text("public class Enemy {}")
    (out / "generate_tests").mkdir()
    (out / "generate_tests" / "EnemyTests.cs").write_text("public class EnemyTests {}")
    (out / "generate_tests" / "Other.cs").write_text("public class Other {}")
    found = find_sources(
        [
            str(out / "generate_code"),
            str(out / "generate_tests" / "*Tests.cs"),
            str(out / "generate_tests" / "Other.cs"),
            str(out / "missing" / "*.cs"),
        ],
        base_dir=project,
        languages=BOTH,
    )
    assert names(found.files) == [
        "generate_code/Sub/Enemy.cs",
        "generate_tests/EnemyTests.cs",
        "generate_tests/Other.cs",
    ]
    assert found.warnings == ("'missing/*.cs' matched no files",)


def test_clashing_names_outside_the_root_take_more_of_their_folder(tmp_path: Path) -> None:
    """Two ``gen`` folders far apart: ``a/gen/X.cs`` and ``b/gen/X.cs``, still relative;
    the same for two files named one by one."""
    for side in ("a", "b"):
        (tmp_path / side / "gen").mkdir(parents=True)
        (tmp_path / side / "gen" / "X.cs").write_text("public class X {}")
        (tmp_path / side / "gen" / "Y.cs").write_text("public class Y {}")
    project = tmp_path / "project"
    project.mkdir()
    found = find_sources(
        [str(tmp_path / side / "gen" / name) for name in ("", "Y.cs") for side in ("a", "b")],
        base_dir=project,
        languages=BOTH,
        exclude=["Y.cs"],
    )
    assert names(found.files) == ["a/gen/X.cs", "b/gen/X.cs"]
    assert sorted(page_paths(found.files).values()) == ["a/gen/X.md", "b/gen/X.md"]
    singles = find_sources(
        [str(tmp_path / side / "gen" / "Y.cs") for side in ("a", "b")],
        base_dir=project,
        languages=BOTH,
    )
    assert names(singles.files) == ["a/gen/Y.cs", "b/gen/Y.cs"]


def test_a_source_named_index_does_not_replace_the_index(tmp_path: Path) -> None:
    """``index.py`` becomes ``index.py.md``."""
    (tmp_path / "index.py").write_text("")
    found = find_sources(["index.py"], base_dir=tmp_path, languages=BOTH)
    assert list(page_paths(found.files).values()) == ["index.py.md"]


def test_folders_far_apart_get_a_page_folder_each(tmp_path: Path) -> None:
    """Project scripts below the root keep their path; a generated folder elsewhere is
    named by its folder's name, not /tmp/..."""
    project = tmp_path / "game" / "Assets" / "Scripts"
    generated = Path("/tmp") / f"{tmp_path.name}-run" / "generate_code"
    try:
        for folder, name in ((project, "Player.cs"), (generated, "Enemy.cs")):
            folder.mkdir(parents=True)
            (folder / name).write_text("public class X {}\n")
        found = find_sources(
            [str(project), str(generated)],
            base_dir=tmp_path / "game",
            languages=frozenset({"csharp"}),
        )
        pages = page_paths(found.files)
    finally:
        shutil.rmtree(generated.parent, ignore_errors=True)
    assert sorted(pages.values()) == ["Assets/Scripts/Player.md", "generate_code/Enemy.md"]
