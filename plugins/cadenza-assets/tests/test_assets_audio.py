"""WAV optimization: downmix, resample, chunk removal, measured bytes."""

from __future__ import annotations

import array
import math
import struct
import wave
from pathlib import Path

import pytest
from assets_helpers import add_riff_chunk, job, sha256, tone

from cadenza_assets._audio import optimize_wav, read_pcm
from cadenza_assets._errors import AssetError
from cadenza_assets._jobs import run_job


def _rms(samples: list[float]) -> float:
    middle = samples[len(samples) // 10 : -len(samples) // 10]
    return math.sqrt(sum(v * v for v in middle) / len(middle))


def _read(path: Path) -> tuple[wave._wave_params, list[int]]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        frames = w.readframes(params.nframes)
    if params.sampwidth == 2:
        return params, list(array.array("h", frames))
    if params.sampwidth == 1:
        return params, [b - 128 for b in frames]
    if params.sampwidth == 3:
        return params, [
            int.from_bytes(frames[i : i + 3], "little", signed=True)
            for i in range(0, len(frames), 3)
        ]
    return params, list(array.array("i", frames))


def test_mobile_downmixes_and_resamples_a_stereo_44k_file(tmp_path: Path) -> None:
    """44.1 kHz stereo becomes 22.05 kHz mono: a quarter of the bytes, same duration and tone."""
    src = tone(tmp_path / "jump.wav", rate=44100, channels=2, seconds=0.5, freqs=(440.0,))
    entry = optimize_wav(job(src, tmp_path / "out", "mobile"))
    out = Path(entry["output"])
    params, samples = _read(out)
    assert (params.nchannels, params.framerate, params.sampwidth) == (1, 22050, 2)
    assert params.nframes == 11025
    assert entry["bytes_after"] == out.stat().st_size
    assert entry["bytes_after"] < entry["bytes_before"] / 3.9
    assert entry["channels_after"] == 1
    assert entry["sample_rate_after"] == 22050
    # A 440 Hz tone at half scale keeps its level (RMS of a sine = peak / sqrt 2).
    assert _rms(samples) == pytest.approx(0.5 * 32767 / math.sqrt(2), rel=0.02)


def test_downmix_is_the_mean_of_the_channels(tmp_path: Path) -> None:
    """Opposite-phase channels cancel; identical channels keep their level."""
    n = 2000
    left = [round(8000 * math.sin(i / 10)) for i in range(n)]
    frames = array.array("h", [v for s in left for v in (s, -s)]).tobytes()
    src = tmp_path / "cancel.wav"
    with wave.open(str(src), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(frames)
    entry = optimize_wav(job(src, tmp_path / "out", "mobile"))
    _, samples = _read(Path(entry["output"]))
    assert max(abs(v) for v in samples) <= 1


def test_resampling_removes_frequencies_above_the_new_nyquist(tmp_path: Path) -> None:
    """A 15 kHz tone (above 11.025 kHz) is filtered out, not aliased into the output."""
    src = tone(tmp_path / "hiss.wav", rate=44100, channels=1, seconds=0.3, freqs=(15000.0,))
    entry = optimize_wav(job(src, tmp_path / "out", "mobile"))
    _, samples = _read(Path(entry["output"]))
    assert _rms(samples) < 0.05 * (0.5 * 32767 / math.sqrt(2))


@pytest.mark.parametrize("width", [1, 3, 4])
def test_other_sample_widths_are_kept(tmp_path: Path, width: int) -> None:
    """8-, 24- and 32-bit PCM keep their width and their level."""
    src = tone(tmp_path / "w.wav", rate=44100, channels=2, width=width, seconds=0.2)
    entry = optimize_wav(job(src, tmp_path / "out", "mobile"))
    params, samples = _read(Path(entry["output"]))
    assert params.sampwidth == width
    assert (params.nchannels, params.framerate) == (1, 22050)
    full = {1: 127, 3: 2**23 - 1, 4: 2**31 - 1}[width]
    assert _rms([float(v) for v in samples]) == pytest.approx(0.5 * full / math.sqrt(2), rel=0.03)


def test_desktop_keeps_a_fitting_file_byte_for_byte(tmp_path: Path) -> None:
    """A stereo 44.1 kHz file already fits desktop: copied unchanged, reported as kept."""
    src = tone(tmp_path / "music.wav", rate=44100, channels=2, seconds=0.1)
    entry = optimize_wav(job(src, tmp_path / "out", "desktop"))
    assert entry["status"] == "kept"
    assert sha256(Path(entry["output"])) == sha256(src)


def test_metadata_chunks_are_removed(tmp_path: Path) -> None:
    """A LIST chunk is dropped (and named) even when the samples need no change."""
    src = tone(tmp_path / "tagged.wav", rate=44100, channels=2, seconds=0.1)
    add_riff_chunk(src, b"LIST", b"INFOISFT" + struct.pack("<I", 200) + b"x" * 200)
    entry = optimize_wav(job(src, tmp_path / "out", "desktop"))
    assert entry["status"] == "optimized"
    assert entry["saved_bytes"] == 8 + 8 + 4 + 200
    assert "removed chunks: LIST" in entry["actions"]
    assert read_pcm(Path(entry["output"]).read_bytes()).extra_chunks == ()


def test_never_upsamples(tmp_path: Path) -> None:
    """An 11 kHz file stays at 11 kHz under a 22 kHz preset."""
    src = tone(tmp_path / "low.wav", rate=11025, channels=1, seconds=0.1)
    entry = optimize_wav(job(src, tmp_path / "out", "mobile"))
    assert entry["sample_rate_after"] == 11025
    assert entry["status"] == "kept"


def test_wave_format_extensible_pcm_is_read(tmp_path: Path) -> None:
    """The extensible header (common from audio editors) with a PCM sub-format is accepted."""
    n, rate = 4410, 44100
    frames = array.array("h", [1000] * n * 2).tobytes()
    guid = struct.pack("<H", 1) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    fmt = struct.pack("<HHIIHH", 0xFFFE, 2, rate, rate * 4, 4, 16)
    fmt += struct.pack("<HHI", 22, 16, 3) + guid
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames
    src = tmp_path / "ext.wav"
    src.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    entry = optimize_wav(job(src, tmp_path / "out", "mobile"))
    assert entry["channels_before"] == 2
    assert entry["channels_after"] == 1


def test_float_and_corrupt_wavs_are_failed_entries(tmp_path: Path) -> None:
    """Float WAVs and garbage give failed entries with a reason, not exceptions."""
    fmt = struct.pack("<HHIIHH", 3, 1, 44100, 44100 * 4, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 8)
    body += b"\0" * 8
    floaty = tmp_path / "float.wav"
    floaty.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    entry = run_job(job(floaty, tmp_path / "out"))
    assert entry["status"] == "failed"
    assert "floating-point WAV is not supported" in entry["error"]

    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(b"not a wav at all")
    entry = run_job(job(garbage, tmp_path / "out"))
    assert entry["status"] == "failed"
    assert "not a WAV file" in entry["error"]
    with pytest.raises(AssetError):
        read_pcm(b"RIFF\x04\x00\x00\x00WAVE")
