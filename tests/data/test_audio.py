"""Tests of WAV decoding, resampling, `fix_length` and audio folders."""

import numpy as np
import pytest
from scipy.io import wavfile

from keras_daam.data import check_audio
from keras_daam.data import fix_length
from keras_daam.data import read_audio
from keras_daam.data import read_audio_folder

# Readers and loaders only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent


def _tone(rate, seconds=0.5, freq=440.0, amplitude=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def _write(path, rate, samples):
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate, samples)
    return path


def _write_24bit(path, rate, values):
    """A 24-bit PCM WAV by hand (scipy writes only 8/16/32/64-bit)."""
    ints = np.asarray(values, np.int32)
    raw = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    fmt = (
        np.array([1, 1], "<u2").tobytes()
        + np.array([rate, rate * 3], "<u4").tobytes()
        + np.array([3, 24], "<u2").tobytes()
    )
    body = b"WAVE" + b"fmt " + (16).to_bytes(4, "little") + fmt
    body += b"data" + len(raw).to_bytes(4, "little") + raw
    path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
    return path


def _peak_hz(wave, rate):
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)]


@pytest.mark.parametrize(
    "dtype, scale, offset, bits",
    [
        ("uint8", 128, 128, 8),
        ("int16", 32768, 0, 16),
        ("int32", 2**31, 0, 32),
        ("float32", 1, 0, 32),
    ],
)
def test_formats_scaled_by_full_scale(tmp_path, dtype, scale, offset, bits):
    values = np.array([-1.0, -0.5, 0.0, 0.5, 0.25])
    samples = (values * scale + offset).astype(dtype)
    path = _write(tmp_path / "a.wav", 16000, samples)
    wave, info = read_audio(path, 16000)
    assert wave.dtype == np.float32
    np.testing.assert_allclose(wave, values, atol=1e-6)
    assert info["bit_depth"] == bits
    assert info["sample_format"] == ("float" if dtype == "float32" else "pcm")
    assert not info["resampled"] and not info["mixed_down"]


def test_24_bit_pcm(tmp_path):
    values = np.array([-(2**23), -(2**22), 0, 2**22, 2**23 - 1])
    path = _write_24bit(tmp_path / "a.wav", 8000, values)
    wave, info = read_audio(path, 8000)
    np.testing.assert_allclose(wave, values / 2**23, atol=1e-7)
    assert info["bit_depth"] == 24 and info["sample_format"] == "pcm"
    assert check_audio(str(path))["bit_depth"] == 24


def test_stereo_is_averaged(tmp_path):
    left = np.full(100, 0.5)
    right = np.full(100, -0.25)
    stereo = (np.stack([left, right], 1) * 32768).astype(np.int16)
    wave, info = read_audio(_write(tmp_path / "s.wav", 16000, stereo), 16000)
    np.testing.assert_allclose(wave, 0.125, atol=1e-6)
    assert info["channels"] == 2 and info["mixed_down"]


@pytest.mark.parametrize("rate", [44100, 8000, 22050])
def test_resampling_keeps_frequency_and_duration(tmp_path, rate):
    tone = (_tone(rate) * 32767).astype(np.int16)
    path = _write(tmp_path / "t.wav", rate, tone)
    wave, info = read_audio(path, 16000)
    assert info["resampled"] and info["sample_rate"] == rate
    assert info["output_sample_rate"] == 16000
    assert len(wave) == 8000  # 0.5 s at 16 kHz
    assert abs(_peak_hz(wave, 16000) - 440.0) <= 2.0
    # The amplitude survives too (no aliasing, no gain change).
    assert abs(np.abs(wave[500:-500]).max() - 0.5) < 0.02


def test_bad_file_is_a_clear_error(tmp_path):
    path = tmp_path / "x.wav"
    path.write_bytes(b"not a wav at all")
    with pytest.raises(ValueError, match="x.wav: cannot decode as WAV"):
        read_audio(path, 16000)
    with pytest.raises(ValueError, match="`sample_rate` must be >= 1"):
        read_audio(path, 0)


def test_fix_length_crop_modes_and_counts():
    waves = [np.arange(10.0), np.arange(4.0), np.arange(6.0)]
    out, info = fix_length(waves, 6)
    assert out.dtype == np.float32 and out.shape == (3, 6)
    assert out[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert out[1].tolist() == [0, 1, 2, 3, 0, 0]
    assert out[2].tolist() == [0, 1, 2, 3, 4, 5]
    assert (info["num_cut"], info["num_padded"], info["num_clips"]) == (
        1,
        1,
        3,
    )
    assert (info["longest"], info["shortest"]) == (10, 4)
    out, info = fix_length(waves, 6, crop="center")
    assert out[0].tolist() == [2, 3, 4, 5, 6, 7] and info["crop"] == "center"
    out, _ = fix_length(waves, 6, crop="end")
    assert out[0].tolist() == [4, 5, 6, 7, 8, 9]
    assert out[1].tolist() == [0, 1, 2, 3, 0, 0]  # padding at the end
    with pytest.raises(ValueError, match="`crop` must be one of"):
        fix_length(waves, 6, crop="middle")
    with pytest.raises(ValueError, match="`num_samples` must be >= 1"):
        fix_length(waves, 0)
    with pytest.raises(ValueError, match="must be 1-D"):
        fix_length([np.zeros((2, 3))], 3)
    empty, info = fix_length([], 5)
    assert empty.shape == (0, 5) and info["num_cut"] == 0


def test_audio_folder_checks_headers_and_skips(tmp_path):
    root = tmp_path / "speech"
    _write(root / "yes" / "1.wav", 16000, np.zeros(1600, np.int16))
    _write(root / "yes" / "2.wav", 44100, np.zeros((4410, 2), np.float32))
    _write(root / "no" / "3.wav", 8000, np.zeros(800, np.uint8))
    _write(root / "no" / "empty.wav", 8000, np.zeros(0, np.int16))
    (root / "no" / "4.flac").write_bytes(b"fLaC")
    (root / "no" / "bad.wav").write_bytes(b"RIFF....")
    (root / "no" / "readme.md").write_text("hi")
    (root / "maybe").mkdir()
    data = read_audio_folder(root)
    assert [p[len(str(root)) + 1 :] for p in data.items] == [
        "no/3.wav",
        "yes/1.wav",
        "yes/2.wav",
    ]
    assert data.labels == ["no", "yes", "yes"]
    info = [data.info(i) for i in range(3)]
    assert [i["sample_rate"] for i in info] == [8000, 16000, 44100]
    assert [i["bit_depth"] for i in info] == [8, 16, 32]
    assert [i["channels"] for i in info] == [1, 1, 2]
    assert info[2]["sample_format"] == "float"
    assert info[1]["duration"] == pytest.approx(0.1)
    skipped = dict(data.skipped)
    assert "convert it to WAV" in skipped[f"{root}/no/4.flac"]
    assert skipped[f"{root}/no/empty.wav"] == "no samples"
    assert skipped[f"{root}/no/bad.wav"].startswith("not a readable WAV")
    assert "not a .wav file" in skipped[f"{root}/no/readme.md"]
    assert data.dropped_classes == ["maybe"]
    assert "sample rates: 1 at 8000 Hz, 1 at 16000 Hz, 1 at 44100 Hz" in (
        data.notes
    )
    assert any("averaged to mono" in n for n in data.notes)
    unlabelled = read_audio_folder(root, labelled=False)
    assert unlabelled.labels is None and len(unlabelled) == 3
