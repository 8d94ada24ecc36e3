"""The CLI's audio preprocessor accepts fractional (float) seconds."""

import argparse

import numpy as np

from keras_daam import cli


class _AudioExtractor:
    modality = "audio"


def test_audio_preprocessor_float_seconds():
    args = argparse.Namespace(audio_seconds=1.5)
    pre = cli.make_preprocessor(_AudioExtractor(), "unused", args)
    waves = cli.fix_audio_length([np.ones(100), np.ones(30000)], 1.5)
    out = np.asarray(pre(waves)["encoder_features"])
    # 1.5 s at 16 kHz, hop 160 -> 150 log-mel frames of 80 bins.
    assert out.shape == (2, 150, 80)
    assert np.all(np.isfinite(out))
