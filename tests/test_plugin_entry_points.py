"""Entry-point discovery without importlib.metadata finds what importlib.metadata finds."""

from __future__ import annotations

import importlib.metadata
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cadenza._plugins._entry_points import entry_points

from .plugin_helpers import Site, open_site


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    yield from open_site(tmp_path, monkeypatch)


def _ours(group: str) -> list[tuple[str, str, str, str]]:
    return [(ep.name, ep.value, ep.distribution, ep.version) for ep in entry_points(group)]


def _theirs(group: str) -> list[tuple[str, str, str, str]]:
    return [
        (ep.name, ep.value, ep.dist.name if ep.dist else "", ep.dist.version if ep.dist else "")
        for ep in importlib.metadata.entry_points(group=group)
    ]


def test_finds_what_importlib_metadata_finds(site: Site, tmp_path: Path) -> None:
    """Plain dist-info and egg-info directories, comments, other groups and a distribution
    installed twice (the first on sys.path wins) give the same entry points, in order."""
    site.add_dist("cadenza-one", "1.0", {"one": "cadenza_one", "two": "cadenza_one.sub:make"})
    site.add_dist("Cadenza.Shadowed", "2.0", {"shadow": "first"})
    egg = site.path / "cadenza_egg-0.3.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: cadenza-egg\nVersion: 0.3\n")
    (egg / "entry_points.txt").write_text(
        "# a comment\n[console_scripts]\negg = cadenza_egg:main\n\n"
        "[cadenza]\n  egg =  cadenza_egg \n"
    )
    later = tmp_path / "later"
    (later / "cadenza_shadowed-3.0.dist-info").mkdir(parents=True)
    (later / "cadenza_shadowed-3.0.dist-info" / "entry_points.txt").write_text(
        "[cadenza]\nshadow = second\n"
    )
    sys.path.append(str(later))
    try:
        assert _ours("cadenza") == _theirs("cadenza")
        assert ("shadow", "first", "Cadenza.Shadowed", "2.0") in _ours("cadenza")
        assert ("egg", "cadenza_egg", "cadenza-egg", "0.3") in _ours("cadenza")
        assert _ours("console_scripts") == _theirs("console_scripts")
    finally:
        sys.path.remove(str(later))


def test_loads_the_object_an_entry_point_names(site: Site) -> None:
    """``load()`` imports the module and follows ``module:attr.attr``."""
    site.add_dist(
        "cadenza-obj",
        "1.0",
        {"obj": "cadenza_obj:Holder.value"},
        {"cadenza_obj": "class Holder:\n    value = 42\n"},
    )
    (ep,) = [ep for ep in entry_points("cadenza") if ep.name == "obj"]
    assert ep.load() == 42


def test_a_zip_on_sys_path_is_left_to_importlib_metadata(site: Site, tmp_path: Path) -> None:
    """A distribution inside a zip on sys.path is found, through importlib.metadata."""
    archive = tmp_path / "dists.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("cadenza_zipped-1.0.dist-info/METADATA", "Name: cadenza-zipped\nVersion: 1.0\n")
        z.writestr("cadenza_zipped-1.0.dist-info/entry_points.txt", "[cadenza]\nzipped = z\n")
    sys.path.append(str(archive))
    try:
        assert ("zipped", "z", "cadenza-zipped", "1.0") in _ours("cadenza")
        assert _ours("cadenza") == _theirs("cadenza")
    finally:
        sys.path.remove(str(archive))
