"""Case 6, `pipeline`: texts per second of feature extraction, end to end.

What a user runs to cache features, timed from raw strings to pooled
features in memory: tokenization, the frozen backbone, the masked mean over
tokens of each of the 6 transformer layers (the embedding output excluded,
padding excluded from the mean).

- **ours**: `keras_daam.features.extract_to_cache` with the preset's
  preprocessor (`make_preprocessor(..., sequence_length=128)`) into a fresh
  temporary folder each run, on the worker's backend; the features are read
  back into memory inside the timing. The first (cold) run pays the
  compiles a user pays; the warm runs reuse the same extractor.
- **the anchor**: Hugging Face `transformers` on the same folder
  (`AutoTokenizer`, `AutoModel`, `output_hidden_states=True`), PyTorch on
  the CPU under `torch.inference_mode()`, batches of 64 padded to their
  longest text, the same masked mean over hidden states 1-6. Two variants:
  sorted (the sentence-transformers recipe: sort by length, batch, restore
  the original order; the reference of the ratios) and unsorted.

Both run in the same worker process with the same thread count; the warm
repeats alternate their order so both see the same machine load. The
features are compared text by text (cosine similarity per layer).
"""

import importlib.util
import shutil
import tempfile

import numpy as np
from adapters import bench_threads
from timing import now
from timing import summary

NUM_TEXTS = 2000
QUICK_NUM_TEXTS = 48
WARM_REPEATS = 3
QUICK_WARM_REPEATS = 1
SEQUENCE_LENGTH = 128
ANCHOR_BATCH_SIZE = 64
PRESET = "minilm"
NO_TRANSFORMERS = "transformers not installed: pip install keras-daam[bench]"


def skip(record, reason):
    """Records the case as skipped (a row with `skipped`, no timings)."""
    print(f"pipeline: skipped, {reason}", flush=True)
    record("pipeline", skipped=reason)


def load_texts(num_texts):
    """`num_texts` WordNet noun glosses (the packaged text data)."""
    from keras_daam.datasets import load_wordnet_supersense

    (train, _, _), _ = load_wordnet_supersense(
        num_train=num_texts, num_val=0, num_test=0, seed=0
    )
    return list(train[0])


# ------------------------------------------------------------------ ours
class _BatchLog:
    """The shapes of the token batches `extract_to_cache` runs.

    Measurement only: wraps the extractor's `predict_on_batch` (which
    `extract_to_cache` calls once per batch) to see the batch sizes and
    padded lengths it chose. Sees nothing if the library runs its batches
    another way; the results then say `None`.
    """

    def __init__(self, extractor):
        self.shapes = []
        inner = extractor.predict_on_batch

        def logged(inputs):
            ids = inputs["token_ids"] if isinstance(inputs, dict) else inputs
            self.shapes.append(tuple(int(s) for s in np.shape(ids)))
            return inner(inputs)

        extractor.predict_on_batch = logged

    def take(self):
        shapes, self.shapes = self.shapes, []
        return shapes


class Ours:
    """keras_daam's extraction: a fresh cache folder per run."""

    def __init__(self, location, workdir):
        from keras_daam.backbones import LayerwiseFeatureExtractor
        from keras_daam.features import make_preprocessor

        t0 = now()
        self.extractor = LayerwiseFeatureExtractor(location)
        self.preprocessor = make_preprocessor(
            self.extractor, location, sequence_length=SEQUENCE_LENGTH
        )
        self.load_s = now() - t0
        self.workdir = workdir
        self.log = _BatchLog(self.extractor)

    def __call__(self, texts):
        from keras_daam.features import extract_to_cache

        cache_dir = tempfile.mkdtemp(dir=self.workdir)
        try:
            t0 = now()
            cache = extract_to_cache(
                self.extractor,
                texts,
                cache_dir,
                batch_size=None,  # the library's choice
                preprocessor=self.preprocessor,
                verbose=False,
            )
            features = np.array(cache.features, dtype="float32")
            seconds = now() - t0
        finally:
            shutil.rmtree(cache_dir, ignore_errors=True)
        return seconds, features, self.log.take()


# ---------------------------------------------------------------- anchor
class Anchor:
    """Hugging Face `transformers`, PyTorch CPU, dynamic padding."""

    def __init__(self, location):
        import torch
        from transformers import AutoModel
        from transformers import AutoTokenizer

        self.torch = torch
        t0 = now()
        self.tokenizer = AutoTokenizer.from_pretrained(location)
        self.model = AutoModel.from_pretrained(location).eval()
        self.load_s = now() - t0

    def __call__(self, texts, sort):
        torch = self.torch
        t0 = now()
        if sort:
            # sentence-transformers sorts by character length, longest
            # first; the output goes back to the input order.
            order = np.argsort([-len(t) for t in texts], kind="stable")
        else:
            order = np.arange(len(texts))
        out = None
        shapes = []
        with torch.inference_mode():
            for lo in range(0, len(texts), ANCHOR_BATCH_SIZE):
                idx = order[lo : lo + ANCHOR_BATCH_SIZE]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=SEQUENCE_LENGTH,
                    return_tensors="pt",
                )
                shapes.append(tuple(int(s) for s in enc["input_ids"].shape))
                hidden = self.model(**enc, output_hidden_states=True)
                # hidden_states[0] is the embedding output.
                stacked = torch.stack(hidden.hidden_states[1:], dim=1)
                mask = enc["attention_mask"][:, None, :, None]
                mask = mask.to(stacked.dtype)
                pooled = (stacked * mask).sum(2) / mask.sum(2).clamp(min=1)
                if out is None:
                    out = np.empty(
                        (len(texts),) + tuple(pooled.shape[1:]), "float32"
                    )
                out[idx] = pooled.numpy()
        return now() - t0, out, shapes


# --------------------------------------------------------------- helpers
def cosine_by_text(a, b):
    """Cosine similarity of `a` and `b` `[N, L, d]`, per text and layer."""
    a = a.astype("float64")
    b = b.astype("float64")
    dot = np.sum(a * b, axis=-1)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return dot / np.maximum(norms, 1e-30)


def execution(backend, model):
    """How Keras ran `model.predict_on_batch` on this backend."""
    if model.jit_compile:
        return {"jax": "jit", "tensorflow": "xla"}.get(backend, "compile")
    return {"tensorflow": "tf.function"}.get(backend, "eager")


def _texts_per_s(count, timing):
    return count / timing["median_s"]


def run(adapter, quick, record):
    if adapter.use_compile:
        # extract_to_cache does not use torch.compile: the eager worker
        # already measures this path.
        print("pipeline: not run in the torch.compile worker", flush=True)
        return
    if importlib.util.find_spec("transformers") is None:
        return skip(record, NO_TRANSFORMERS)
    from keras_daam.backbones import resolve_preset

    try:
        location = resolve_preset(PRESET).location
    except ImportError as error:
        return skip(record, f"the packaged MiniLM is missing: {error}")
    import torch
    import transformers

    num_texts = QUICK_NUM_TEXTS if quick else NUM_TEXTS
    repeats = QUICK_WARM_REPEATS if quick else WARM_REPEATS
    texts = load_texts(num_texts)
    with tempfile.TemporaryDirectory(prefix="daam_bench_") as workdir:
        ours = Ours(location, workdir)
        anchor = Anchor(location)
        # Cold: the first call of each (compiles, lazy initialisation).
        ours_cold, our_features, cold_shapes = ours(texts)
        anchor_cold, anchor_features, sorted_shapes = anchor(texts, True)
        warm = {"ours": [], "sorted": [], "unsorted": []}
        unsorted_features = unsorted_shapes = warm_shapes = None
        for r in range(repeats):
            order = ("ours", "sorted", "unsorted")
            for path in order if r % 2 == 0 else order[::-1]:
                if path == "ours":
                    seconds, _, warm_shapes = ours(texts)
                else:
                    seconds, feats, shapes = anchor(texts, path == "sorted")
                    if path == "unsorted":
                        unsorted_features, unsorted_shapes = feats, shapes
                warm[path].append(seconds)
    cos = cosine_by_text(our_features, anchor_features)
    anchors_agree = cosine_by_text(unsorted_features, anchor_features)
    t = {
        "ours_cold": summary([ours_cold]),
        "ours_warm": summary(warm["ours"]),
        "anchor_sorted_cold": summary([anchor_cold]),
        "anchor_sorted_warm": summary(warm["sorted"]),
        "anchor_unsorted_warm": summary(warm["unsorted"]),
    }
    rate = {k: _texts_per_s(num_texts, v) for k, v in t.items()}
    record(
        "pipeline",
        preset=PRESET,
        backbone="all-MiniLM-L6-v2 (BERT, 6 layers x 384)",
        data="WordNet noun glosses (load_wordnet_supersense, seed 0)",
        num_texts=num_texts,
        sequence_length=SEQUENCE_LENGTH,
        features="masked mean over tokens of transformer layers 1-6",
        warm_repeats=repeats,
        ours_load_s=ours.load_s,
        anchor_load_s=anchor.load_s,
        **t,
        ours_cold_texts_per_s=rate["ours_cold"],
        ours_texts_per_s=rate["ours_warm"],
        anchor_sorted_cold_texts_per_s=rate["anchor_sorted_cold"],
        anchor_sorted_texts_per_s=rate["anchor_sorted_warm"],
        anchor_unsorted_texts_per_s=rate["anchor_unsorted_warm"],
        ratio_ours_over_anchor=rate["ours_warm"] / rate["anchor_sorted_warm"],
        ratio_ours_over_anchor_unsorted=rate["ours_warm"]
        / rate["anchor_unsorted_warm"],
        ratio_cold_ours_over_anchor=rate["ours_cold"]
        / rate["anchor_sorted_cold"],
        ours_execution=execution(adapter.backend, ours.extractor.as_model()),
        ours_batch_size="auto",
        **_shape_fields(cold_shapes, warm_shapes),
        anchor_batch_size=ANCHOR_BATCH_SIZE,
        anchor_sorted_padded_lengths=sorted({s[1] for s in sorted_shapes}),
        anchor_unsorted_padded_lengths=sorted({s[1] for s in unsorted_shapes}),
        anchor_sorted_padded_tokens=_padded_tokens(sorted_shapes),
        anchor_unsorted_padded_tokens=_padded_tokens(unsorted_shapes),
        cosine_min_per_layer=[float(v) for v in cos.min(axis=0)],
        cosine_mean_per_layer=[float(v) for v in cos.mean(axis=0)],
        cosine_min=float(cos.min()),
        cosine_mean=float(cos.mean()),
        anchor_sorted_vs_unsorted_cosine_min=float(anchors_agree.min()),
        torch_threads=torch.get_num_threads(),
        bench_threads=bench_threads() or "backend default",
        transformers=transformers.__version__,
    )


def _padded_tokens(shapes):
    """Token positions run through the backbone, padding included."""
    return int(sum(s[0] * s[1] for s in shapes if len(s) > 1))


def _shape_fields(cold_shapes, warm_shapes):
    """Batch sizes and padded lengths our runs used (see `_BatchLog`)."""
    if not cold_shapes:
        return {
            "ours_batch_sizes": None,
            "ours_padded_lengths": None,
            "ours_distinct_batch_shapes": None,
            "ours_padded_tokens": None,
        }
    return {
        "ours_batch_sizes": sorted({s[0] for s in cold_shapes}),
        "ours_padded_lengths": sorted(
            {s[1] for s in cold_shapes if len(s) > 1}
        ),
        # One compile each on JAX and TensorFlow (a new input shape).
        "ours_distinct_batch_shapes": len(set(cold_shapes)),
        "ours_batches": len(cold_shapes),
        "ours_padded_tokens": _padded_tokens(cold_shapes),
        "ours_same_batches_warm": cold_shapes == warm_shapes,
    }
