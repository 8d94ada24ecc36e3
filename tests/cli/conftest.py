"""Fixtures for driving `keras-daam` through its real entry point."""

import json
import os
import wave

import numpy as np
import pytest

from keras_daam import cli


class Result:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    @property
    def errors(self):
        return [line for line in self.err.splitlines() if "error:" in line]

    def assert_user_error(self, *fragments):
        """Exit 2, exactly one `keras-daam: error:` line, no traceback,
        and the line names every fragment."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert "Traceback" not in self.err, self.err
        assert len(self.errors) == 1, self.err
        line = self.errors[0]
        assert line.startswith("keras-daam: error:"), line
        for fragment in fragments:
            assert fragment in line, (fragment, line)
        return line


@pytest.fixture
def run(capsys):
    """`run(*argv)` -> Result(code, out, err) of `keras_daam.cli.main`."""

    def call(*argv):
        capsys.readouterr()
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exit:
            code = exit.code
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


def write_csv(path, rows, header=("text", "label"), encoding="utf-8"):
    import csv

    with open(path, "w", newline="", encoding=encoding) as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_wav(path, rate, seconds, freq, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    pcm = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    pcm = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


@pytest.fixture(scope="session")
def tiny_image_preset(tmp_path_factory):
    """A tiny random EfficientNet preset (blocks of widths 8 and 16)."""
    from tests.backbones.tiny import make_backbone

    folder = tmp_path_factory.mktemp("tiny_image_preset")
    make_backbone("efficientnet").save_to_preset(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def tiny_audio_preset(tmp_path_factory):
    """A tiny random Whisper encoder preset taking up to 2 s of audio."""
    import keras_hub

    folder = tmp_path_factory.mktemp("tiny_audio_preset")
    backbone = keras_hub.models.WhisperBackbone(
        vocabulary_size=40,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        max_encoder_sequence_length=200,
        max_decoder_sequence_length=4,
    )
    backbone.save_to_preset(str(folder))
    keras_hub.layers.WhisperAudioConverter().save_to_preset(str(folder))
    return str(folder)


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cat", "dog")):
        (root / name).mkdir()
        for i in range(4):
            pixels = rng.integers(0, 90, (20, 24, 3)) + 120 * c
            Image.fromarray(pixels.astype("uint8")).save(
                root / name / f"{i}.png"
            )
    Image.fromarray(np.full((10, 10), 200, "uint8")).save(
        root / "dog" / "g.png"
    )
    return str(root)


@pytest.fixture(scope="session")
def audio_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("audio")
    for name, freq in (("low", 300.0), ("high", 2000.0)):
        (root / name).mkdir()
        for i, rate in enumerate((16000, 8000, 44100)):
            write_wav(root / name / f"{i}.wav", rate, 0.5 + 0.3 * i, freq)
    return str(root)


@pytest.fixture(scope="module")
def text_cache(tmp_path_factory, tiny_bert_preset, tiny_csv):
    """A labelled cache of `tiny_csv` (made once per module)."""
    out = str(tmp_path_factory.mktemp("text") / "cache")
    code = cli.main(
        ["extract", "--preset", tiny_bert_preset, "--data", tiny_csv]
        + ["--output", out, "--sequence-length", "24", "--batch-size", "16"]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def text_run(tmp_path_factory, text_cache):
    """A training run of two heads on `text_cache` (made once per module)."""
    out = str(tmp_path_factory.mktemp("run") / "run")
    code = cli.main(
        ["train", "--cache", text_cache, "--output", out]
        + ["--heads", "daam_h1_flatten,none_flatten", "--epochs", "8"]
        + ["--learning-rates", "1e-2", "--patience", "8"]
        + ["--val-fraction", "0.2", "--test-fraction", "0.2"]
    )
    assert code == 0
    return out


def listing(folder):
    return sorted(os.listdir(folder))
