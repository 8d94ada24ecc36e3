"""WordNet noun supersense classification (Debian `wordnet-base`)."""

import os

import numpy as np

from keras_daam.data import check_sizes
from keras_daam.data import split_indices

DEFAULT_PATH = "/usr/share/wordnet/data.noun"

# Lexicographer files 03-28 (WordNet `lexnames`); label = number - 3.
SUPERSENSES = (
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
)
_FIRST_LEXFILE = 3


def read_wordnet_nouns(path=DEFAULT_PATH, include_lemma=True):
    """Parses a WordNet `data.noun` file into texts and supersense labels.

    Args:
        path: str. The `data.noun` file.
        include_lemma: bool. Prefix each gloss with the synset's first lemma
            (`"dog: a member of the genus Canis ..."`). Defaults to `True`.

    Returns:
        `(texts, labels)`: a list of str and an int64 array in [0, 26).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"WordNet noun file {path!r} not found. On Debian/Ubuntu install "
            "it with `apt-get install wordnet-base`."
        )
    texts, labels = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line_number, line in enumerate(f, 1):
            if line.startswith("  "):  # Licence header.
                continue
            if "|" not in line:
                raise ValueError(
                    f"{path}:{line_number}: not a WordNet data line "
                    f"(no '|' gloss separator): {line[:60]!r}"
                )
            fields, gloss = line.split("|", 1)
            fields = fields.split()
            try:
                lexfile = int(fields[1])
                lemma = fields[4]
            except (IndexError, ValueError):
                raise ValueError(
                    f"{path}:{line_number}: malformed WordNet data line: "
                    f"{line[:60]!r}"
                )
            label = lexfile - _FIRST_LEXFILE
            if not 0 <= label < len(SUPERSENSES):
                raise ValueError(
                    f"{path}:{line_number}: lexicographer file {lexfile} is "
                    "not a noun file (expected 03-28)."
                )
            gloss = gloss.strip()
            if include_lemma:
                # Lemmas use '_' for spaces and may carry '(a)' markers.
                lemma = lemma.split("(")[0].replace("_", " ")
                gloss = f"{lemma}: {gloss}"
            texts.append(gloss)
            labels.append(label)
    if not texts:
        raise ValueError(f"No WordNet entries found in {path!r}.")
    return texts, np.asarray(labels, dtype="int64")


def load_wordnet_supersense(
    num_train,
    num_val,
    num_test,
    seed=0,
    path=DEFAULT_PATH,
    include_lemma=True,
):
    """Loads WordNet noun glosses labelled with their 26 supersenses.

    Each noun synset in Debian's `wordnet-base` (82,115 of them) becomes one
    example: the text is its gloss (definition and examples, the part after
    `|`), by default prefixed with the synset's first lemma; the label is its
    lexicographer file (field 2, 03-28), one of 26 supersense topics such as
    `noun.animal` or `noun.artifact`. The lemma prefix is on by default
    because a gloss alone is often ambiguous (it is how a dictionary is read);
    pass `include_lemma=False` for gloss-only text. The split is a fixed
    seeded random permutation: the three sets are disjoint. Classes are
    imbalanced (`noun.artifact` and `noun.person` are the largest).

    Args:
        num_train: int. Number of training examples.
        num_val: int. Number of validation examples.
        num_test: int. Number of test examples.
        seed: int. Seed of the split. Defaults to `0`.
        path: str. The `data.noun` file.
        include_lemma: bool. Prefix the gloss with the first lemma.

    Returns:
        `((x_train, y_train), (x_val, y_val), (x_test, y_test)), class_names`
        where x are lists of str, y int64 arrays in [0, 26) and
        `class_names` the 26 lexicographer file names.

    Example:

    >>> (train, val, test), names = load_wordnet_supersense(100, 20, 20)
    >>> len(train[0]), names[train[1][0]]  # doctest: +SKIP
    (100, 'noun.artifact')
    """
    check_sizes(num_train, num_val, num_test)
    texts, labels = read_wordnet_nouns(path, include_lemma=include_lemma)
    splits = split_indices(
        len(texts), (num_train, num_val, num_test), seed, "WordNet glosses"
    )
    out = tuple(([texts[i] for i in idx], labels[idx]) for idx in splits)
    return out, list(SUPERSENSES)
