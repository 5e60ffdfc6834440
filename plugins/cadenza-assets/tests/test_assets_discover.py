"""Finding the files a step names, and planning outputs that never touch an input."""

from __future__ import annotations

from pathlib import Path

import pytest
from assets_helpers import pixel_art, save

from cadenza_assets._discover import discover, output_inside_inputs
from cadenza_assets._jobs import UnsafeOutputError, plan
from cadenza_assets._presets import PRESETS


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with textures, a sound, a hidden folder and a non-asset file."""
    root = tmp_path / "game"
    art = pixel_art((8, 8))
    save(art, root / "Assets" / "Textures" / "a.png")
    save(art, root / "Assets" / "Textures" / "UI" / "b.jpg")
    save(art, root / "Assets" / ".cache" / "hidden.png")
    (root / "Assets" / "Textures" / "a.png.meta").write_text("guid: 1")
    (root / "Assets" / "Audio").mkdir(parents=True)
    (root / "Assets" / "Audio" / "jump.wav").write_bytes(b"RIFF")
    return root


def _relatives(found: list) -> list[str]:  # type: ignore[type-arg]
    return [f.relative for f in found]


def test_folder_is_walked_for_assets_skipping_hidden_folders(project: Path) -> None:
    """A folder yields its textures and WAVs (not .meta files, not hidden folders)."""
    d = discover(["Assets"], base_dir=project)
    assert _relatives(d.found) == [
        "Assets/Audio/jump.wav",
        "Assets/Textures/UI/b.jpg",
        "Assets/Textures/a.png",
    ]
    assert d.missing == []


def test_globs_and_files_resolve_against_the_workflow_folder(project: Path) -> None:
    """Relative globs and files are found from base_dir; duplicates are listed once."""
    d = discover(
        ["Assets/Textures/**/*.jpg", "Assets/Textures/a.png", "Assets/Textures/*.png"],
        base_dir=project,
    )
    assert _relatives(d.found) == ["Assets/Textures/UI/b.jpg", "Assets/Textures/a.png"]


def test_absolute_paths_outside_the_project_mirror_from_the_named_folder(
    project: Path, tmp_path: Path
) -> None:
    """Files outside base_dir keep their path from the folder named in the input."""
    elsewhere = tmp_path / "shared" / "icons"
    save(pixel_art((8, 8)), elsewhere / "x.png")
    d = discover([str(elsewhere)], base_dir=project)
    assert _relatives(d.found) == ["icons/x.png"]


def test_missing_paths_are_reported_not_raised(project: Path) -> None:
    """A typo'd path and an empty glob become problems naming them."""
    d = discover(["Asets", "Assets/*.tga"], base_dir=project)
    assert d.found == []
    assert [m.entry for m in d.missing] == ["Asets", "Assets/*.tga"]
    assert "no such file or folder" in d.missing[0].message
    assert "matched no asset files" in d.missing[1].message


def test_output_folder_inside_the_inputs_is_skipped(project: Path) -> None:
    """The step's output folder is never walked, even when it lies inside an input folder."""
    out = project / "Assets" / "optimized"
    save(pixel_art((8, 8)), out / "old.png")
    d = discover(["Assets"], base_dir=project, skip=out)
    assert "Assets/optimized/old.png" not in _relatives(d.found)


def test_plan_refuses_outputs_onto_inputs(project: Path) -> None:
    """An output folder equal to the project would overwrite the originals: refused."""
    d = discover(["Assets"], base_dir=project)
    with pytest.raises(UnsafeOutputError, match="would overwrite the input"):
        plan(d.found, output_dir=project, settings=PRESETS["mobile"])


def test_plan_refuses_a_format_change_onto_a_sibling_input(tmp_path: Path) -> None:
    """logo.png becoming logo.jpg must not overwrite an input logo.jpg in the output folder."""
    root = tmp_path / "p"
    save(pixel_art((8, 8)), root / "logo.png")
    d = discover(["logo.png"], base_dir=root)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "logo.jpg").symlink_to(root / "logo.png")
    with pytest.raises(UnsafeOutputError):
        plan(d.found, output_dir=tmp_path / "out", settings=PRESETS["mobile"])


def test_plan_mirrors_layout_and_keeps_formats_of_same_named_files(
    project: Path, tmp_path: Path
) -> None:
    """Outputs mirror the relative paths; a.png next to a.jpg both keep their formats."""
    save(pixel_art((8, 8)), project / "Assets" / "Textures" / "a.jpg")
    d = discover(["Assets/Textures"], base_dir=project)
    jobs, clashes = plan(d.found, output_dir=tmp_path / "out", settings=PRESETS["mobile"])
    assert clashes == []
    by_rel = {j.relative: j for j in jobs}
    assert by_rel["Assets/Textures/a.png"].output_stem == str(
        tmp_path / "out" / "Assets" / "Textures" / "a"
    )
    assert by_rel["Assets/Textures/a.png"].keep_format
    assert by_rel["Assets/Textures/a.jpg"].keep_format
    assert not by_rel["Assets/Textures/UI/b.jpg"].keep_format


def test_two_files_with_one_output_path_is_a_failed_entry(tmp_path: Path) -> None:
    """Two outside folders with the same name and file: the second gets an error entry."""
    save(pixel_art((8, 8)), tmp_path / "one" / "icons" / "x.png")
    save(pixel_art((8, 8)), tmp_path / "two" / "icons" / "x.png")
    d = discover(
        [str(tmp_path / "one" / "icons"), str(tmp_path / "two" / "icons")],
        base_dir=tmp_path / "project",
    )
    jobs, clashes = plan(d.found, output_dir=tmp_path / "out", settings=PRESETS["mobile"])
    assert len(jobs) == 1
    assert clashes[0]["status"] == "failed"
    assert "already the output of" in clashes[0]["error"]


def test_output_inside_an_input_folder_is_detected_unless_hidden(project: Path) -> None:
    """Assets/out is inside the input Assets; Assets/.cadenza/out is not (walking skips it)."""
    d = discover(["Assets", "Assets/Textures/*.png"], base_dir=project)
    assert output_inside_inputs(project / "Assets" / "out", d.roots) == project / "Assets"
    assert output_inside_inputs(project / "Assets", d.roots) == project / "Assets"
    assert output_inside_inputs(project / "Assets" / ".cadenza" / "out", d.roots) is None
    assert output_inside_inputs(project / "build", d.roots) is None


def test_suffixes_limit_what_is_found(project: Path) -> None:
    """Only the suffixes asked for are walked; a named file of another asset type is skipped."""
    d = discover(
        ["Assets", "Assets/Audio/jump.wav"], base_dir=project, suffixes=frozenset({".png"})
    )
    assert _relatives(d.found) == ["Assets/Textures/a.png"]
    assert d.skipped == ["Assets/Audio/jump.wav"]
    assert d.missing == []
