"""Class names and label ids: one order everywhere, names matched by name."""

import re

import numpy as np

# A plain decimal number as people write labels: "3", "-1", "1.5", ".5",
# "2e3". Not "nan", "inf" or "1_000", which `float` would also accept.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _is_number(name):
    return _NUMBER.fullmatch(name.strip()) is not None


def sort_class_names(names):
    """Sorts class names: numerically when all are numbers, else as text.

    `"2"` comes before `"10"` when every name is a number (integers or
    decimals, e.g. `"1.5"`); if any name is not a number, all are sorted
    as strings. Names that are equal as numbers but written differently
    (`"1"`, `"1.0"`) stay distinct classes, ordered by their text.

    Args:
        names: iterable of str. Distinct class names.

    Returns:
        list of str, sorted.

    Example:

    >>> sort_class_names(["10", "2", "1"])
    ['1', '2', '10']
    >>> sort_class_names(["10", "2", "cat"])
    ['10', '2', 'cat']
    """
    names = [str(n) for n in names]
    if names and all(_is_number(n) for n in names):
        return sorted(names, key=lambda n: (float(n), n))
    return sorted(names)


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def encode_labels(labels, class_names=None):
    """Turns label names into integer ids.

    Without `class_names` the classes are the distinct labels sorted by
    `sort_class_names` (numeric order when every label is a number), and
    there must be at least two. With `class_names` (say, the training
    set's), each label is matched to a class by name: a test set may lack
    some of the training classes, but a label that is not a known class is
    an error that lists the unknown names.

    Args:
        labels: sequence of label names (str; other values are converted
            with `str`).
        class_names: list of str or `None`. The classes to map onto, in
            id order. Defaults to `None` (infer them from `labels`).

    Returns:
        `(ids, class_names)`: an int64 array with one id per label, and the
        list of class names (`class_names[ids[i]] == labels[i]`).

    Example:

    >>> ids, names = encode_labels(["10", "2", "2", "1"])
    >>> names, ids.tolist()
    (['1', '2', '10'], [2, 1, 1, 0])
    >>> encode_labels(["dog"], class_names=["cat", "dog"])[0].tolist()
    [1]
    """
    if labels is None:
        raise ValueError(
            "The data has no labels: encoding labels needs labelled data."
        )
    labels = [str(label) for label in labels]
    if not labels:
        raise ValueError("No labels: the dataset is empty.")
    if class_names is None:
        class_names = sort_class_names(set(labels))
        if len(class_names) < 2:
            raise ValueError(
                f"The data has a single class ({class_names[0]!r}, "
                f"{_plural(len(labels), 'example')}): a classifier needs at "
                "least two classes."
            )
    else:
        class_names = [str(name) for name in class_names]
        if len(set(class_names)) != len(class_names):
            seen, repeated = set(), []
            for name in class_names:
                if name in seen:
                    repeated.append(name)
                seen.add(name)
            raise ValueError(
                "`class_names` must be distinct. Repeated: "
                + ", ".join(repr(n) for n in repeated)
            )
    index = {name: i for i, name in enumerate(class_names)}
    unknown = {}
    for label in labels:
        if label not in index:
            unknown[label] = unknown.get(label, 0) + 1
    if unknown:
        listing = ", ".join(
            f"{name!r} ({_plural(count, 'row')})"
            for name, count in sorted(unknown.items())
        )
        known = ", ".join(repr(n) for n in class_names)
        raise ValueError(
            f"{_plural(sum(unknown.values()), 'label')} "
            f"{'is' if sum(unknown.values()) == 1 else 'are'} not among the "
            f"{len(class_names)} known classes: {listing}. "
            f"Known classes: {known}."
        )
    ids = np.fromiter((index[label] for label in labels), np.int64)
    return ids, list(class_names)
