"""Audio: frozen Whisper tiny.en on SYNTHETIC spoken digits (results, 3).

The audio is text-to-speech (espeak-ng, flite), split by voice so test
voices are never heard in training; the paper's IEMOCAP task cannot be
reproduced offline. Every clip has one fixed length. Whisper's layer taps
are not normalised (outlier channels), so by default every head sees
per-layer, per-channel z-scored features (training statistics only).
"""

import os

from keras_daam import evaluation
from keras_daam.evaluation import DEFAULT_LEARNING_RATES
from keras_daam.evaluation import check_learning_rates
from keras_daam.experiments.common import LAYER_HEADS
from keras_daam.experiments.common import ONE_HEAD
from keras_daam.experiments.common import as_head_list
from keras_daam.experiments.common import cache_splits
from keras_daam.experiments.common import check_compare
from keras_daam.experiments.common import check_protocol
from keras_daam.experiments.common import layer_heads_report
from keras_daam.experiments.common import pooled_arrays
from keras_daam.experiments.common import quiet
from keras_daam.experiments.common import standardize
from keras_daam.utils import check_float
from keras_daam.utils import check_int

SAMPLE_RATE = 16000
_EXTRA_ACCENTS = ("en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
_EXTRA_VARIANTS = ("m1", "m3", "m5", "m7", "f1", "f2", "f3", "f4", "croak")


def voices(extra=False):
    """The default 22 voices, plus (with `extra`) the same 9 espeak-ng
    variants on 4 more English accents: 58 voices.

    Returns:
        A list of voice dicts for `keras_daam.datasets.load_spoken_digits`.
    """
    from keras_daam.datasets import default_voices

    out = default_voices()
    if not extra:
        return out
    for b, base in enumerate(_EXTRA_ACCENTS):
        for v, variant in enumerate(_EXTRA_VARIANTS):
            out.append(
                {
                    "engine": "espeak-ng",
                    "voice": f"{base}+{variant}",
                    "speed": 130 + 20 * ((v + b + 1) % 4),
                    "pitch": 30 + 10 * ((2 * v + b + 1) % 5),
                }
            )
    return out


def run_audio(
    output="results",
    test_voices=8,
    val_voices=4,
    split_seed=0,
    seeds=3,
    max_epochs=30,
    patience=5,
    batch_size=64,
    learning_rates=DEFAULT_LEARNING_RATES,
    audio_seconds=1.5,
    extra_voices=False,
    standardized=True,
    heads=None,
    compare=(),
    ablation=True,
    cache_dir="cache",
    extract_batch_size=64,
    command=None,
    log=None,
):
    """Layer heads and the IF ablation on Whisper features of spoken digits.

    Writes `<output>/audio.json` and `<output>/audio.md`.

    Args:
        output: str. Output folder. Defaults to `"results"`.
        test_voices, val_voices: int. Voices held out for test and
            validation. Default to 8 and 4.
        split_seed: int. Seed of the voice split. Defaults to 0.
        seeds: int. Training seeds per head. Defaults to 3.
        max_epochs, patience, batch_size: the protocol (30, 5, 64).
        learning_rates: the protocol's grid. Defaults to `(1e-3, 1e-4)`.
        audio_seconds: float. Fixed clip length. Defaults to 1.5.
        extra_voices: bool. 58 voices instead of 22 (`voices`). Defaults
            to `False`.
        standardized: bool. Z-score the features with training
            statistics. Defaults to `True`.
        heads: list of layer-head names. Defaults to `LAYER_HEADS`.
        compare: head names (or a comma-separated str), each also
            compared with every other trained head. Defaults to none.
        ablation: bool. Run the IF ablation. Defaults to `True`.
        cache_dir: str. Feature cache root. Defaults to `"cache"`.
        extract_batch_size: int. Backbone batch size. Defaults to 64.
        command: str, optional. The command line, recorded in the report.
        log: optional callable for progress lines.

    Returns:
        The report dict.
    """
    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.backbones import resolve_preset
    from keras_daam.datasets import load_spoken_digits
    from keras_daam.features.preprocessing import make_preprocessor
    from keras_daam.heads import get_head_spec

    log = log or quiet
    test_voices = check_int("test_voices", test_voices, minimum=1)
    val_voices = check_int("val_voices", val_voices, minimum=1)
    split_seed = check_int("split_seed", split_seed, minimum=0)
    audio_seconds = check_float(
        "audio_seconds", audio_seconds, minimum=0.0, include_minimum=False
    )
    seeds, max_epochs, patience, batch_size = check_protocol(
        seeds, max_epochs, patience, batch_size
    )
    learning_rates = check_learning_rates(learning_rates)
    explicit = heads is not None
    heads = as_head_list(heads, LAYER_HEADS)
    compare = check_compare(compare, heads)
    for name in heads:
        get_head_spec(name)  # an unknown name fails before synthesis
    chosen = voices(extra_voices)
    splits, class_names = load_spoken_digits(
        num_test_voices=test_voices,
        num_val_voices=val_voices,
        seed=split_seed,
        voices=chosen,
        length=int(round(audio_seconds * SAMPLE_RATE)),
    )
    voice_counts = [len(set(v)) for _, _, v in splits]
    location = resolve_preset("whisper_tiny_en").location
    extractor = LayerwiseFeatureExtractor(location)
    preprocessor = make_preprocessor(
        extractor, location, audio_seconds=audio_seconds
    )
    key = (
        f"audio_whisper_v{len(chosen)}_t{test_voices}_v{val_voices}_"
        f"s{split_seed}_{audio_seconds:g}s"
    )
    caches, extract_s = cache_splits(
        extractor,
        preprocessor,
        {
            name: (x, y)
            for name, (x, y, _) in zip(("train", "val", "test"), splits)
        },
        os.path.join(cache_dir, key),
        extract_batch_size,
        log=log,
    )
    parts = [pooled_arrays(caches[s]) for s in ("train", "val", "test")]
    if standardized:
        parts = standardize(parts)
    report, _, blocks = layer_heads_report(
        "audio",
        parts,
        len(class_names),
        heads,
        explicit,
        seeds,
        max_epochs,
        patience,
        batch_size,
        ablation,
        log,
        also_compare=(ONE_HEAD, *compare),
        learning_rates=learning_rates,
        extra={
            "command": command,
            "voices_train_val_test": voice_counts,
            "audio_seconds": audio_seconds,
            "standardized": bool(standardized),
            "synthetic": True,
            "extract_time_s": extract_s,
        },
    )
    header = f"`{command}` on {report['machine']}" if command else ""
    evaluation.write_report(output, report, "audio", [header, *blocks], "audio")
    report["text"] = "\n\n".join(b for b in [header, *blocks] if b)
    return report
