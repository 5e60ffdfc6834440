"""The ``assets`` agent end to end: workflows run with real worker processes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from assets_helpers import photo, pixel_art, run, save, sprite, tone, tree_hashes
from PIL import Image

import cadenza
import cadenza.events
import cadenza.testing


def test_plugin_is_found_through_its_entry_point() -> None:
    """load_plugins() finds distribution cadenza-assets and its `assets` kind."""
    plugins = cadenza.plugins.load_plugins(only=["assets"])
    info = next(i for i in plugins.infos if i.name == "assets")
    assert info.status == "loaded", info.error
    assert info.distribution == "cadenza-assets"
    assert info.version == "0.1.0"
    assert ("cadenza_agent_kinds", "assets") in info.registrations
    reg = plugins.agent_kinds["assets"]
    assert {"asset_optimization", "textures", "audio"} <= reg.capabilities


def test_cadenza_plugins_command_lists_it() -> None:
    """`cadenza plugins --json` shows the plugin as loaded, with its registration."""
    listed = cadenza.testing.listed_plugins("assets")
    assert listed["assets"]["distribution"] == "cadenza-assets"
    assert listed["assets"]["status"] == "loaded"
    assert {
        "hook": "cadenza_agent_kinds",
        "name": "assets",
        "default_executor": "process",
    } in listed["assets"]["registrations"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small game project: a photo texture, a sprite, pixel art, a sound, a corrupt file."""
    root = tmp_path / "game"
    save(photo((1400, 900)), root / "Assets" / "Textures" / "ground.png")
    save(sprite(300), root / "Assets" / "Sprites" / "hero.png")
    save(pixel_art((64, 64)), root / "Assets" / "UI" / "tiles.png")
    tone(root / "Assets" / "Audio" / "jump.wav", rate=44100, channels=2, seconds=0.3)
    (root / "Assets" / "UI" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def _check_written(report: dict[str, Any], step_dir: Path) -> None:
    """Every written file is in the step folder, never bigger, and its numbers are its real size."""
    written = [e for e in report["files"] if e["status"] != "failed"]
    for e in written:
        output = Path(e["output"])
        assert output.is_relative_to(step_dir)
        assert e["bytes_after"] == output.stat().st_size
        assert e["bytes_before"] == Path(e["source"]).stat().st_size
        assert e["bytes_after"] <= e["bytes_before"]
    for e in written:
        if e["kind"] == "texture":
            with Image.open(e["output"]) as im:
                w, h = im.size
            assert max(w, h) <= 1024
            assert w & (w - 1) == 0
            assert h & (h - 1) == 0

    totals = report["totals"]
    assert totals["files"] == 5
    assert totals["failed"] == 1
    assert totals["bytes_before"] == sum(e["bytes_before"] for e in written)
    assert totals["bytes_after"] == sum(Path(e["output"]).stat().st_size for e in written)
    assert totals["saved_bytes"] > totals["bytes_before"] * 0.8


WORKFLOW = """\
agents:
  optimizer: {kind: assets, options: {preset: mobile, workers: 2}}
steps:
  optimize: {uses: optimizer, with: {files: [Assets]}}
"""


async def test_workflow_optimizes_a_project_into_the_output_folder(
    project: Path, tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """Files shrink, mirror the layout, originals stay untouched, numbers match the disk."""
    before = tree_hashes(project)
    progress: list[str] = []

    def observe(event: cadenza.events.Event) -> None:
        if isinstance(event, cadenza.events.AttemptProgress):
            progress.append(event.message)

    out = tmp_path / "out"
    result = await run(WORKFLOW, base_dir=project, out=out, plugins=plugins, observers=[observe])
    step = result.steps["optimize"]
    assert step.status == "succeeded", step.error
    report: dict[str, Any] = step.output
    json.dumps(report)  # the output is JSON data

    assert tree_hashes(project) == before  # originals untouched, nothing added beside them
    entries = {e["path"]: e for e in report["files"]}
    assert set(entries) == {
        "Assets/Audio/jump.wav",
        "Assets/Sprites/hero.png",
        "Assets/Textures/ground.png",
        "Assets/UI/broken.png",
        "Assets/UI/tiles.png",
    }
    step_dir = out / "optimize"
    assert entries["Assets/Textures/ground.png"]["output"] == str(
        step_dir / "Assets" / "Textures" / "ground.jpg"
    )
    assert entries["Assets/UI/broken.png"]["status"] == "failed"

    _check_written(report, step_dir)
    assert report["preset"] == "mobile"
    assert progress
    assert progress[0] == "0/5 files"


async def test_per_step_preset_and_overrides(
    project: Path, tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """A step's preset and overrides win over the agent's; the report shows the settings."""
    text = """\
agents:
  optimizer: {kind: assets, options: {preset: mobile, overrides: {max_dimension: 512}, workers: 1}}
steps:
  small: {uses: optimizer, with: {files: [Assets/Textures]}}
  web: {uses: optimizer, with: {files: Assets/Textures/ground.png, preset: web,
                                overrides: {max_dimension: 300, formats: [webp]}}}
"""
    result = await run(text, base_dir=project, out=tmp_path / "out", plugins=plugins)
    small = result.steps["small"].output["files"][0]
    with Image.open(small["output"]) as im:
        assert im.size == (512, 256)  # agent override 512, then power of two
    web = result.steps["web"].output
    assert web["settings"]["max_dimension"] == 300
    assert web["preset"] == "web"
    entry = web["files"][0]
    assert entry["format_after"] == "webp"
    with Image.open(entry["output"]) as im:
        assert im.size == (300, 193)
        assert im.format == "WEBP"


async def test_run_captured_with_an_output_folder_shows_progress(
    project: Path, tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """Through run_captured: the step succeeds and reports progress as files finish."""
    captured = await cadenza.testing.run_captured(
        WORKFLOW, plugins=plugins, base_dir=project, output_dir=tmp_path / "out"
    )
    assert captured.result.steps["optimize"].status == "succeeded"
    messages = [e.message for e in captured.of("attempt_progress")]  # type: ignore[attr-defined]
    assert messages[0] == "0/5 files"
    assert all(m.endswith("/5 files") for m in messages)


async def test_step_fails_without_an_output_folder(
    project: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """run_captured gives the run no output folder: the step fails, saying to pass --out."""
    captured = await cadenza.testing.run_captured(WORKFLOW, plugins=plugins, base_dir=project)
    step = captured.result.steps["optimize"]
    assert step.status == "failed"
    assert step.attempts == 1  # permanent: not retried
    assert "cadenza run --out DIR" in (step.error or "")


async def test_step_where_every_file_fails_is_a_permanent_error(
    tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """Only corrupt files and a missing path: the step fails listing them."""
    (tmp_path / "bad.png").write_bytes(b"junk")
    text = """\
agents:
  optimizer: {kind: assets, options: {workers: 1}}
steps:
  optimize: {uses: optimizer, with: {files: [bad.png, missing_folder]}}
"""
    result = await run(text, base_dir=tmp_path, out=tmp_path / "out", plugins=plugins)
    step = result.steps["optimize"]
    assert step.status == "failed"
    assert step.attempts == 1
    assert "no file could be optimized (2 failed)" in (step.error or "")
    assert "bad.png: not an image Pillow can read" in (step.error or "")
    assert "no such file or folder" in (step.error or "")


async def test_bad_step_inputs_fail_before_any_work(
    tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """A misspelt input fails the step with the input's path and a suggestion."""
    text = """\
agents:
  optimizer: {kind: assets}
steps:
  optimize: {uses: optimizer, with: {file: [x.png]}}
"""
    result = await run(text, base_dir=tmp_path, out=tmp_path / "out", plugins=plugins)
    error = result.steps["optimize"].error or ""
    assert "with.file: unknown input. Did you mean 'files'?" in error
    assert not (tmp_path / "out" / "optimize").exists()


async def test_outputs_onto_the_inputs_are_refused(
    tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """An output that would overwrite an original fails the step before anything is written."""
    project = tmp_path / "optimize"
    save(pixel_art((8, 8)), project / "a.png")
    original = (project / "a.png").read_bytes()
    text = """\
agents:
  optimizer: {kind: assets}
steps:
  optimize: {uses: optimizer, with: {files: [a.png]}}
"""
    # The step's own folder is <out>/optimize, which here is the project itself.
    result = await run(text, base_dir=project, out=tmp_path, plugins=plugins)
    assert "would overwrite the input" in (result.steps["optimize"].error or "")
    assert (project / "a.png").read_bytes() == original
    assert sorted(p.name for p in project.iterdir()) == ["a.png"]


async def test_output_folder_inside_an_input_folder_is_refused(
    tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """Writing optimized copies inside a folder being optimized (Assets/) is refused."""
    save(pixel_art((8, 8)), tmp_path / "Assets" / "a.png")
    text = """\
agents:
  optimizer: {kind: assets}
steps:
  optimize: {uses: optimizer, with: {files: [Assets]}}
"""
    result = await run(text, base_dir=tmp_path, out=tmp_path / "Assets" / "out", plugins=plugins)
    assert "is inside the input folder" in (result.steps["optimize"].error or "")
    assert not (tmp_path / "Assets" / "out").exists()


SEED_WORKFLOW = """\
agents:
  - id: unity_asset_optimizer
    type: asset_optimizer
    kind: assets
    options: {preset: desktop, paths: [Assets], workers: 2}
workflows:
  unity_feature_development:
    steps:
      - name: optimize_assets
        agent_type: asset_optimizer
        data:
          asset_types: [textures, models]
          target_platform: mobile
"""


async def test_seed_step_with_only_asset_types_and_platform(
    project: Path, tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """A seed step giving only asset_types and target_platform optimizes the agent's paths."""
    out = tmp_path / "out"
    captured = await cadenza.testing.run_captured(
        SEED_WORKFLOW, plugins=plugins, base_dir=project, output_dir=out
    )
    step = captured.result.steps["optimize_assets"]
    assert step.status == "succeeded", step.error
    report: dict[str, Any] = step.output
    assert report["preset"] == "mobile"  # target_platform wins over the agent's desktop
    assert report["warnings"] == ["models: not supported by cadenza-assets, skipped"]
    entries = {e["path"]: e for e in report["files"]}
    assert set(entries) == {  # no audio: asset_types asked for textures only
        "Assets/Sprites/hero.png",
        "Assets/Textures/ground.png",
        "Assets/UI/broken.png",
        "Assets/UI/tiles.png",
    }
    ground = entries["Assets/Textures/ground.png"]
    assert ground["status"] == "optimized"
    assert ground["bytes_after"] < ground["bytes_before"]
    assert Path(ground["output"]).is_relative_to(out / "optimize_assets")
    assert report["totals"]["failed"] == 1  # broken.png, as before


async def test_named_files_of_other_types_are_skipped_with_a_warning(
    project: Path, tmp_path: Path, plugins: cadenza.plugins.Plugins
) -> None:
    """A named WAV when only textures are asked for is skipped, and the report says so."""
    text = """\
agents:
  optimizer: {kind: assets, options: {preset: mobile, workers: 1}}
steps:
  some:
    uses: optimizer
    with: {files: [Assets/Audio/jump.wav, Assets/UI/tiles.png], asset_types: [textures]}
  none:
    uses: optimizer
    with: {files: [Assets/Audio/jump.wav], asset_types: [textures]}
"""
    result = await run(text, base_dir=project, out=tmp_path / "out", plugins=plugins)
    some = result.steps["some"]
    assert [e["path"] for e in some.output["files"]] == ["Assets/UI/tiles.png"]
    assert some.output["warnings"] == [
        "Assets/Audio/jump.wav: not among asset_types (textures), skipped"
    ]
    none = result.steps["none"]
    assert none.status == "failed"
    assert none.attempts == 1
    assert "nothing to optimize:\n  Assets/Audio/jump.wav: not among asset_types" in (
        none.error or ""
    )
