"""Tests of the packaged-data loaders."""

import gzip
import os
import shutil

import numpy as np
import pytest

from keras_daam import datasets
from keras_daam.data import read_audio
from keras_daam.datasets import spoken_digits
from keras_daam.datasets import wordnet

# Readers and loaders only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent

HAS_WORDNET = os.path.exists(wordnet.DEFAULT_PATH)
HAS_FASHION = os.path.exists("/usr/share/datasets/fashion-mnist")

FAKE_NOUN = """  1 This software and database is being provided ...
00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which exists
00002137 05 n 02 dog 0 domestic_dog 0 000 | a member of the genus Canis
00002452 06 n 01 hammer 0 000 | a hand tool
00002684 28 n 01 noon 0 000 | midday; "we met at noon"
00003553 18 n 01 nurse(a) 0 000 | a person who cares for the sick
"""


@pytest.fixture
def fake_noun(tmp_path):
    path = tmp_path / "data.noun"
    path.write_text(FAKE_NOUN)
    return str(path)


def test_wordnet_parsing_on_fake_file(fake_noun):
    texts, labels = wordnet.read_wordnet_nouns(fake_noun)
    assert labels.tolist() == [0, 2, 3, 25, 15]
    assert texts[1] == "dog: a member of the genus Canis"
    assert texts[4].startswith("nurse: ")
    texts, _ = wordnet.read_wordnet_nouns(fake_noun, include_lemma=False)
    assert texts[3] == 'midday; "we met at noon"'
    assert wordnet.SUPERSENSES[2] == "noun.animal"


def test_wordnet_split_and_errors(fake_noun, tmp_path):
    (tr, va, te), names = datasets.load_wordnet_supersense(
        2, 1, 2, path=fake_noun
    )
    assert len(names) == 26
    assert (len(tr[0]), len(va[0]), len(te[0])) == (2, 1, 2)
    assert sorted(tr[0] + va[0] + te[0]) == sorted(
        wordnet.read_wordnet_nouns(fake_noun)[0]
    )
    with pytest.raises(ValueError, match="only 5 are available"):
        datasets.load_wordnet_supersense(3, 2, 1, path=fake_noun)
    with pytest.raises(ValueError, match="num_val"):
        datasets.load_wordnet_supersense(1, -1, 1, path=fake_noun)
    with pytest.raises(FileNotFoundError, match="apt-get install wordnet"):
        datasets.load_wordnet_supersense(1, 1, 1, path=str(tmp_path / "x"))
    bad = tmp_path / "bad.noun"
    bad.write_text("00001740 03 n 01 entity 0 000 no gloss here\n")
    with pytest.raises(ValueError, match="not a WordNet data line"):
        wordnet.read_wordnet_nouns(str(bad))
    bad.write_text("00001740 44 n 01 entity 0 000 | x\n")
    with pytest.raises(ValueError, match="not a noun file"):
        wordnet.read_wordnet_nouns(str(bad))


@pytest.mark.skipif(not HAS_WORDNET, reason="needs Debian wordnet-base")
def test_wordnet_real_file_split():
    (tr, va, te), names = datasets.load_wordnet_supersense(300, 100, 100)
    (tr2, _, te2), _ = datasets.load_wordnet_supersense(300, 100, 100)
    (tr3, _, _), _ = datasets.load_wordnet_supersense(300, 100, 100, seed=1)
    assert tr[0] == tr2[0] and te[0] == te2[0]
    assert tr[0] != tr3[0]
    assert not set(tr[0]) & set(te[0]) and not set(tr[0]) & set(va[0])
    assert tr[1].min() >= 0 and tr[1].max() < 26
    assert len(np.unique(tr[1])) > 10


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_on_fake_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        _write_idx(
            tmp_path / f"{prefix}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28)),
        )
        _write_idx(
            tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10
        )
    (tr, va, te), names = datasets.load_fashion_mnist(
        20, 10, 5, directory=str(tmp_path)
    )
    assert tr[0].shape == (20, 28, 28) and tr[0].dtype == np.uint8
    assert len(names) == 10
    with pytest.raises(ValueError, match="only 30 are available"):
        datasets.load_fashion_mnist(25, 10, 5, directory=str(tmp_path))
    with pytest.raises(ValueError, match="only 10 are available"):
        datasets.load_fashion_mnist(5, 5, 11, directory=str(tmp_path))
    with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1]) + (99).to_bytes(4, "big") + b"\0")
    with pytest.raises(ValueError, match="header says shape"):
        datasets.load_fashion_mnist(5, 5, 1, directory=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        datasets.load_fashion_mnist(1, 1, 1, directory=str(tmp_path / "n"))


@pytest.mark.skipif(not HAS_FASHION, reason="needs dataset-fashion-mnist")
def test_fashion_mnist_real_files():
    (tr, va, te), _ = datasets.load_fashion_mnist(200, 50, 50)
    (tr2, va2, _), _ = datasets.load_fashion_mnist(200, 50, 50)
    np.testing.assert_array_equal(tr[0], tr2[0])
    assert tr[1].min() >= 0 and tr[1].max() <= 9
    train_set = {x.tobytes() for x in tr[0]}
    assert not train_set & {x.tobytes() for x in va[0]}


def test_digits_8x8():
    (tr, va, te), _ = datasets.load_digits_8x8(100, 50, 50, seed=3)
    assert tr[0].shape == (100, 8, 8) and te[0].shape == (50, 8, 8)
    assert tr[0].max() <= 16
    with pytest.raises(ValueError, match="only 1797"):
        datasets.load_digits_8x8(1000, 500, 500)


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="needs Debian espeak-ng"
)
def test_synthesize_and_load_split_by_voice(tmp_path):
    voices = [
        {"engine": "espeak-ng", "voice": v, "speed": 160, "pitch": 50}
        for v in ("en+m1", "en+f2", "en+m3")
    ]
    entries = spoken_digits.synthesize_spoken_digits(
        tmp_path, voices[:1], digits=[1, 7]
    )
    assert [e["label"] for e in entries] == [1, 7]
    wave, info = read_audio(tmp_path / entries[0]["path"], 16000)
    assert (info["sample_rate"], info["bit_depth"]) == (16000, 16)
    assert wave.dtype == np.float32 and 0.05 < np.abs(wave).max() <= 1.0
    # About 0.3-1 s of speech at 16 kHz.
    assert 3000 < len(wave) < 20000
    # Small voice set with two digits only to stay fast.
    original = spoken_digits.DIGIT_WORDS
    (tr, va, te), names = spoken_digits.load_spoken_digits(
        num_test_voices=1, cache_dir=tmp_path, voices=voices, length=8000
    )
    assert names == list(original)
    assert tr[0].shape == (20, 8000) and te[0].shape == (10, 8000)
    assert va[0].shape == (0, 8000)
    assert not set(tr[2]) & set(te[2])
    assert sorted(te[1].tolist()) == list(range(10))
    # The cut keeps the start of each clip (fix_length, crop="start").
    (full, _, _), _ = spoken_digits.load_spoken_digits(
        num_test_voices=1, cache_dir=tmp_path, voices=voices, length=20000
    )
    np.testing.assert_array_equal(tr[0], full[0][:, :8000])
    with pytest.raises(ValueError, match="leave one for training"):
        spoken_digits.load_spoken_digits(
            num_test_voices=3, cache_dir=tmp_path, voices=voices
        )
    with pytest.raises(ValueError, match="`length` must be >= 1"):
        spoken_digits.load_spoken_digits(
            cache_dir=tmp_path, voices=voices, length=0
        )
