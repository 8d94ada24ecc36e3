"""The text task: frozen MiniLM-L6 features of WordNet noun supersenses."""

import os

from keras_daam.experiments.common import cache_splits
from keras_daam.experiments.common import pooled_arrays
from keras_daam.experiments.common import quiet
from keras_daam.experiments.common import token_arrays

WORDNET_PATH = "/usr/share/wordnet/data.noun"
SEQUENCE_LENGTH = 64
MINILM_SHAPE = (6, 384)  # MiniLM-L6: 6 transformer layers of 384 features


def check_wordnet(path=WORDNET_PATH):
    """Raises a FileNotFoundError naming the Debian package if missing."""
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found. The text task's data is Debian's WordNet: "
            "`sudo apt-get install wordnet-base`."
        )


def minilm_location():
    """The MiniLM preset folder (ImportError naming the pip command)."""
    from keras_daam.backbones import resolve_preset

    return resolve_preset("minilm").location


def load_splits(num_train, num_val, num_test, split_seed=0):
    """The seeded WordNet supersense split.

    Returns:
        `({"train": (texts, y), "val": ..., "test": ...}, class_names)`.
    """
    from keras_daam.datasets import load_wordnet_supersense

    check_wordnet()
    splits, class_names = load_wordnet_supersense(
        num_train, num_val, num_test, seed=split_seed
    )
    return dict(zip(("train", "val", "test"), splits)), class_names


def cache_key(num_train, num_val, num_test, split_seed, sequence_length):
    """The cache folder name of one split and preprocessing."""
    return (
        f"minilm_T{sequence_length}_wordnet_s{split_seed}_"
        f"{num_train}_{num_val}_{num_test}"
    )


class MiniLM:
    """MiniLM loaded once, on first use, with its preprocessor."""

    def __init__(self, sequence_length=SEQUENCE_LENGTH, log=quiet):
        self.sequence_length = sequence_length
        self.log = log
        self._extractor = None
        self._preprocessor = None

    def _load(self):
        if self._extractor is None:
            from keras_daam.backbones import LayerwiseFeatureExtractor
            from keras_daam.features.preprocessing import make_preprocessor

            location = minilm_location()
            self.log(f"loading MiniLM from {location}")
            self._extractor = LayerwiseFeatureExtractor(location)
            self._preprocessor = make_preprocessor(
                self._extractor,
                location,
                sequence_length=self.sequence_length,
            )
        return self._extractor, self._preprocessor

    def pooled(self):
        """`(extractor over all 6 layers, mean-pooled; preprocessor)`."""
        return self._load()

    def last_tokens(self):
        """`(extractor of the last layer's tokens, unpooled; preprocessor)`,
        sharing the backbone."""
        from keras_daam.backbones import LayerwiseFeatureExtractor

        extractor, preprocessor = self._load()
        last = LayerwiseFeatureExtractor(
            extractor.backbone,
            layers="last",
            pooling=None,
            preset=extractor.preset,
        )
        return last, preprocessor


def wordnet_features(
    splits,
    cache_dir,
    key,
    minilm,
    batch_size=64,
    tokens=False,
    log=quiet,
):
    """Frozen MiniLM features of the WordNet splits, through the cache.

    Args:
        splits: `{split: (texts, y)}` from `load_splits`.
        cache_dir: str. The cache root.
        key: str. The folder under it (`cache_key`).
        minilm: a `MiniLM` (loads the backbone once).
        batch_size: int. Extraction batch size. Defaults to 64.
        tokens: bool. The last layer's token states (`[N, T, d]` with the
            padding mask, an unpooled cache under `<key>/last_tokens`)
            instead of the 6 pooled layers (`<key>/pooled`). Defaults to
            `False`.
        log: callable for progress lines.

    Returns:
        `({split: (x, y)}, seconds)`: x `[N, 6, 384]` pooled, or the
        `{"features", "padding_mask"}` dict of the token heads.
    """
    if tokens:
        extractor, preprocessor = minilm.last_tokens()
        folder = os.path.join(cache_dir, key, "last_tokens")
    else:
        extractor, preprocessor = minilm.pooled()
        folder = os.path.join(cache_dir, key, "pooled")
    caches, seconds = cache_splits(
        extractor,
        preprocessor,
        {s: (list(x), y) for s, (x, y) in splits.items()},
        folder,
        batch_size,
        pooled=not tokens,
        log=log,
    )
    convert = token_arrays if tokens else pooled_arrays
    return {s: convert(c) for s, c in caches.items()}, seconds
