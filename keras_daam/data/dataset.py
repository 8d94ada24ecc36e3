"""`Dataset`: what a reader read, what it skipped and what it changed."""

import dataclasses
import hashlib
import json
import os

from keras_daam.data.labels import sort_class_names
from keras_daam.utils import check_choice

MODALITIES = ("text", "image", "audio")
_NOUNS = {"text": "texts", "image": "images", "audio": "audio files"}


@dataclasses.dataclass
class Dataset:
    """A user's data as read from disk, with a record of what was skipped.

    Made by the readers (`read_text_table`, `read_image_folder`,
    `read_audio_folder`); nothing is decoded yet for images and audio (the
    files are checked, hashed and their headers recorded), so a `Dataset`
    is cheap to hold and can be fingerprinted before any backbone runs.
    Treat it as read-only: `fingerprint()` is computed once and cached.

    Args:
        modality: str. `"text"`, `"image"` or `"audio"`.
        source: str. The absolute path the data was read from (a file for
            text, a folder for images and audio).
        items: list. The texts (str), or absolute file paths.
        labels: list of str, or `None` for unlabelled data. The raw label
            of each item (a class name); `encode_labels` turns them into
            ids.
        skipped: list of `(where, why)` pairs: each row, file or class that
            was left out, e.g. `("data.csv line 7", "empty text")`.
        notes: list of str. Sentences about what was inferred or changed,
            e.g. `"encoding: latin-1"`.
        item_info: list of dicts, one per item, or `None`. For files: at
            least `size` (bytes) and `sha256` (of the content), plus what
            the header says (see `read_image_folder`, `read_audio_folder`);
            for text: the 1-based file `line` of the row.
        dropped_classes: list of str. Class folders that held no usable
            file (each also has an entry in `skipped`).

    Example:

    >>> data = Dataset("text", "/tmp/x.csv", ["good", "bad"], ["1", "0"])
    >>> data.class_counts()
    {'0': 1, '1': 1}
    >>> len(data.fingerprint())
    64
    """

    modality: str
    source: str
    items: list
    labels: list = None
    skipped: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    item_info: list = None
    dropped_classes: list = dataclasses.field(default_factory=list)
    _fingerprint: str = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self):
        check_choice("modality", self.modality, MODALITIES)
        self.items = list(self.items)
        if self.labels is not None:
            self.labels = list(self.labels)
            if len(self.labels) != len(self.items):
                raise ValueError(
                    f"`labels` must have one entry per item: {len(self.items)}"
                    f" items but {len(self.labels)} labels."
                )
        if self.item_info is not None and len(self.item_info) != len(
            self.items
        ):
            raise ValueError(
                f"`item_info` must have one entry per item: {len(self.items)}"
                f" items but {len(self.item_info)} entries."
            )

    def __len__(self):
        return len(self.items)

    @property
    def labelled(self):
        """Whether the data has labels."""
        return self.labels is not None

    def info(self, index):
        """What was recorded about one item (a copy).

        Args:
            index: int. The item's position.

        Returns:
            A dict: for files `size` and `sha256`, for images also
            `format`, `mode`, `width`, `height` and `animated`, for audio
            `sample_rate`, `channels`, `bit_depth`, `sample_format`,
            `num_frames` and `duration`; for text the file `line`. Empty
            when the dataset was built without `item_info`.

        Example:

        >>> data = Dataset("text", "/tmp/x.csv", ["a"], None, item_info=[
        ...     {"line": 2}])
        >>> data.info(0)
        {'line': 2}
        """
        if self.item_info is None:
            return {}
        return dict(self.item_info[index])

    def fingerprint(self):
        """A hex SHA-256 over every item and label, computed once.

        Text: each text and its label. Files: each file's path relative to
        `source`, its size and the SHA-256 of its content (taken from
        `item_info`, or read now when absent), and its label. Two datasets
        have the same fingerprint exactly when they hold the same content
        in the same order with the same labels, wherever the folder lives.
        The modality is included; `skipped` and `notes` are not (they
        describe, they are not data).

        Returns:
            str. 64 hex digits.

        Example:

        >>> a = Dataset("text", "/a.csv", ["x", "y"], ["0", "1"])
        >>> b = Dataset("text", "/b.csv", ["x", "y"], ["0", "1"])
        >>> a.fingerprint() == b.fingerprint()
        True
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            digest.update(json.dumps([self.modality]).encode())
            labels = self.labels
            for i, item in enumerate(self.items):
                if self.modality == "text":
                    record = [item]
                else:
                    info = self.info(i)
                    if "sha256" not in info or "size" not in info:
                        info = file_digest(item)
                    rel = os.path.relpath(item, self.source)
                    record = [
                        rel.replace(os.sep, "/"),
                        info["size"],
                        info["sha256"],
                    ]
                record.append(None if labels is None else labels[i])
                # JSON escapes separators, so records cannot run together.
                digest.update(json.dumps(record).encode() + b"\n")
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def class_names(self):
        """The distinct labels in class order (see `encode_labels`).

        Returns:
            list of str; empty for unlabelled data.
        """
        if self.labels is None:
            return []
        return sort_class_names(set(self.labels))

    def class_counts(self):
        """How many items each class has, in class order.

        Returns:
            dict `{class name: count}`; empty for unlabelled data.

        Example:

        >>> Dataset("text", "/x.csv", list("abc"), ["10", "2", "2"]
        ...         ).class_counts()
        {'2': 2, '10': 1}
        """
        if self.labels is None:
            return {}
        counts = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        return {name: counts[name] for name in sort_class_names(counts)}

    def summary(self):
        """One or two lines saying what was read, for a user to check.

        Returns:
            str, e.g. `"data.csv: 60 texts, 3 classes: a 20, b 20, c 20
            (2 rows skipped)"`. The class counts move to a second line when
            the first would be long.

        Example:

        >>> print(Dataset("text", "/d/data.csv", list("abc"),
        ...               ["x", "y", "x"]).summary())
        data.csv: 3 texts, 2 classes: x 2, y 1
        """
        name = os.path.basename(os.path.normpath(self.source))
        if self.modality != "text":
            name += "/"
        noun = _NOUNS[self.modality]
        if len(self) == 1:
            noun = noun[:-1]
        head = f"{name}: {len(self)} {noun}"
        tail = []
        num_skipped = len(self.skipped) - len(self.dropped_classes)
        if num_skipped:
            unit = "row" if self.modality == "text" else "file"
            unit += "" if num_skipped == 1 else "s"
            tail.append(f"{num_skipped} {unit} skipped")
        if self.dropped_classes:
            n = len(self.dropped_classes)
            names = ", ".join(self.dropped_classes)
            tail.append(f"{n} class{'es' * (n != 1)} dropped: {names}")
        tail = f" ({'; '.join(tail)})" if tail else ""
        if self.labels is None:
            return f"{head}, unlabelled{tail}"
        counts = self.class_counts()
        classes = f"{len(counts)} class{'es' * (len(counts) != 1)}"
        listing = ", ".join(f"{c} {n}" for c, n in counts.items())
        line = f"{head}, {classes}: {listing}{tail}"
        if len(line) <= 100:
            return line
        return f"{head}, {classes}{tail}\n  {listing}"


def file_digest(path):
    """The size and SHA-256 of a file's content.

    Args:
        path: str. The file.

    Returns:
        dict `{"size": int, "sha256": str}`.

    Example:

    >>> file_digest(__file__)["size"] > 0
    True
    """
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        size = f.tell()
    return {"size": size, "sha256": digest.hexdigest()}
