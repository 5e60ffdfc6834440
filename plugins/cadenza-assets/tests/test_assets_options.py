"""Presets, overrides, and how bad options and inputs are reported."""

from __future__ import annotations

import pytest

import cadenza
from cadenza_assets._inputs import InputError, parse_inputs
from cadenza_assets._options import AssetsOptions, Overrides, resolve
from cadenza_assets._presets import PRESETS


def _load(options: str, plugins: cadenza.plugins.Plugins) -> cadenza.LoadResult:
    text = (
        "agents:\n"
        f"  optimizer: {{kind: assets, options: {options}}}\n"
        "steps:\n"
        "  textures: {uses: optimizer, with: {files: [Assets]}}\n"
    )
    return cadenza.load_workflow_text(text, plugins=plugins, filename="workflow.yaml")


def test_presets_differ_where_platforms_differ() -> None:
    """Mobile is smallest and power-of-two; only web allows WebP by default."""
    mobile, desktop, web = PRESETS["mobile"], PRESETS["desktop"], PRESETS["web"]
    assert mobile.max_dimension < web.max_dimension < desktop.max_dimension
    assert mobile.power_of_two
    assert not desktop.power_of_two
    assert "webp" in web.formats
    assert "webp" not in mobile.formats
    assert mobile.audio_mono
    assert mobile.audio_sample_rate == 22050


def test_agent_options_load_into_the_options_class(plugins: cadenza.plugins.Plugins) -> None:
    """``options: {preset: mobile, overrides: {max_dimension: 512}}`` is structured and typed."""
    loaded = _load("{preset: mobile, overrides: {max_dimension: 512}, workers: 2}", plugins)
    options = loaded.workflow.agents["optimizer"].options
    assert options == AssetsOptions(
        preset="mobile", overrides=Overrides(max_dimension=512), workers=2
    )
    assert resolve(options.preset, options.overrides).max_dimension == 512
    assert resolve(options.preset, options.overrides).power_of_two is True


def test_overrides_layer_agent_then_step() -> None:
    """Step overrides win over agent overrides, which win over the preset."""
    settings = resolve(
        "web", Overrides(max_dimension=512, jpeg_quality=70), Overrides(max_dimension=256)
    )
    assert settings.max_dimension == 256
    assert settings.jpeg_quality == 70
    assert settings.webp_quality == PRESETS["web"].webp_quality


@pytest.mark.parametrize(
    ("options", "token", "expected"),
    [
        (
            "{preset: tablet}",
            "tablet",
            "options.preset: expected one of 'mobile', 'desktop', 'web'",
        ),
        (
            "{overrides: {max_dimension: 0}}",
            "0",
            "options.overrides.max_dimension: expected a size in pixels from 1 to 65536, got 0",
        ),
        (
            "{overrides: {formats: [gif]}}",
            "gif",
            "options.overrides.formats[0]: expected one of 'png', 'jpeg', 'webp'",
        ),
        (
            "{overrides: {jpeg_quality: 100}}",
            "100",
            "options.overrides.jpeg_quality: expected a quality from 1 to 95, got 100",
        ),
        (
            "{overrides: {max_dimenson: 512}}",
            "max_dimenson",
            "options.overrides.max_dimenson: unknown field 'max_dimenson'",
        ),
        ("{workers: 0}", "0", "options.workers: expected a number of processes from 1 to 64"),
        (
            "{overrides: {formats: []}}",
            "[]",
            "options.overrides.formats: expected at least one format",
        ),
    ],
)
def test_bad_options_are_load_errors_with_file_and_line(
    options: str, token: str, expected: str, plugins: cadenza.plugins.Plugins
) -> None:
    """Wrong option values fail loading, located at the value's file:line:col."""
    with pytest.raises(cadenza.WorkflowError) as info:
        _load(options, plugins)
    line = f"  optimizer: {{kind: assets, options: {options}}}"
    column = line.index(token, line.index("options:")) + 1
    assert f"workflow.yaml:2:{column}: agents.optimizer.{expected}" in str(info.value)


def test_misspelt_override_gets_a_suggestion(plugins: cadenza.plugins.Plugins) -> None:
    """An unknown key names the close match and every allowed key."""
    with pytest.raises(cadenza.WorkflowError) as info:
        _load("{overrides: {max_dimenson: 512}}", plugins)
    assert "Did you mean 'max_dimension'?" in str(info.value)


def test_step_inputs_parse() -> None:
    """files and paths combine; preset and overrides are optional."""
    step = parse_inputs(
        {
            "files": "a.png",
            "paths": ["b", "c/*.png"],
            "preset": "web",
            "overrides": {"max_dimension": 128, "formats": ["png"]},
        }
    )
    assert step.paths == ("a.png", "b", "c/*.png")
    assert step.preset == "web"
    assert step.overrides == Overrides(max_dimension=128, formats=("png",))


def test_bad_step_inputs_list_every_problem() -> None:
    """Unknown inputs, unknown presets and bad override values are all reported at once."""
    with pytest.raises(InputError) as info:
        parse_inputs(
            {
                "file": "x",
                "preset": "mobil",
                "overrides": {"max_dimension": "big", "jpeg_quality": 0, "colour": 1},
            }
        )
    text = str(info.value)
    assert "with.file: unknown input. Did you mean 'files'?" in text
    assert "with.files: missing" in text
    assert "with.preset: unknown preset 'mobil'. Did you mean 'mobile'?" in text
    assert "with.overrides.max_dimension: expected an integer, got str 'big'" in text
    assert "with.overrides.jpeg_quality: expected a quality from 1 to 95, got 0" in text
    assert "with.overrides.colour: unknown override." in text


def test_empty_file_list_is_an_input_error() -> None:
    """``files: []`` names nothing to optimize."""
    with pytest.raises(InputError, match=r"with.files: empty"):
        parse_inputs({"files": []})


def test_agent_paths_option_loads(plugins: cadenza.plugins.Plugins) -> None:
    """``options: {paths: [...]}`` loads as a tuple of paths; default none."""
    loaded = _load("{paths: [Assets/Textures, 'Art/*.png']}", plugins)
    assert loaded.workflow.agents["optimizer"].options.paths == ("Assets/Textures", "Art/*.png")
    assert _load("{preset: web}", plugins).workflow.agents["optimizer"].options.paths == ()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("{paths: Assets}", "options.paths: expected a list, got a string"),
        (
            "{paths: [Assets, '']}",
            "options.paths: expected files, folders or globs, got an empty string at [1]",
        ),
    ],
)
def test_bad_agent_paths_are_load_errors(
    options: str, expected: str, plugins: cadenza.plugins.Plugins
) -> None:
    """A single string or an empty path in options.paths fails loading, at the option."""
    with pytest.raises(cadenza.WorkflowError) as info:
        _load(options, plugins)
    assert f"agents.optimizer.{expected}" in str(info.value)


def test_agent_paths_serve_a_step_without_files() -> None:
    """The agent's paths are used when the step names no files; a step's own files win."""
    assert parse_inputs({}, default_paths=("Assets",)).paths == ("Assets",)
    assert parse_inputs({"files": "a.png"}, default_paths=("Assets",)).paths == ("a.png",)
    with pytest.raises(InputError, match=r"or give the agent options: \{paths: \[\.\.\.\]\}"):
        parse_inputs({"target_platform": "mobile"})


def test_target_platform_is_another_name_for_preset() -> None:
    """target_platform sets the preset; giving both is fine only when they agree."""
    assert parse_inputs({"files": "a", "target_platform": "mobile"}).preset == "mobile"
    both = {"files": "a", "target_platform": "web", "preset": "web"}
    assert parse_inputs(both).preset == "web"
    with pytest.raises(InputError) as info:
        parse_inputs({"files": "a", "target_platform": "mobile", "preset": "web"})
    assert str(info.value) == (
        "with.target_platform: 'mobile' differs from with.preset 'web'; "
        "target_platform is another name for preset: give one of them"
    )
    with pytest.raises(InputError, match=r"with.target_platform: unknown preset 'ios'"):
        parse_inputs({"files": "a", "target_platform": "ios"})
    with pytest.raises(InputError, match=r"with.preset: unknown preset \['web'\]"):
        parse_inputs({"files": "a", "preset": ["web"]})


def test_asset_types_pick_kinds_and_warn_about_unsupported_ones() -> None:
    """textures and audio are kept; models (and any other type) is a warning, not an error."""
    step = parse_inputs({"files": "a", "asset_types": ["textures", "models", "audio", "models"]})
    assert step.asset_types == ("textures", "audio")
    assert step.warnings == ("models: not supported by cadenza-assets, skipped",)
    assert ".wav" in step.suffixes
    assert ".png" in step.suffixes

    textures = parse_inputs({"files": "a", "asset_types": "textures"})
    assert ".wav" not in textures.suffixes
    assert ".png" in textures.suffixes
    typo = parse_inputs({"files": "a", "asset_types": ["audio", "texture"]})
    assert typo.warnings == (
        "texture: not supported by cadenza-assets, skipped (did you mean 'textures'?)",
    )
    assert parse_inputs({"files": "a"}).asset_types is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["models"], "with.asset_types: none of models is supported; cadenza-assets optimizes"),
        ([], "with.asset_types: empty"),
        ({"textures": True}, "with.asset_types: expected a list of asset types (textures, audio)"),
    ],
)
def test_asset_types_that_leave_nothing_are_input_errors(value: object, expected: str) -> None:
    """Only unsupported types, an empty list or a mapping leave nothing to do: an input error."""
    with pytest.raises(InputError) as info:
        parse_inputs({"files": "a", "asset_types": value})
    assert expected in str(info.value)
