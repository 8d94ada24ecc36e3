"""Fashion-MNIST from Debian's `dataset-fashion-mnist` package."""

import gzip
import os

import numpy as np

from keras_daam.data import check_sizes
from keras_daam.data import split_indices

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def read_idx(path):
    """Reads a (gzipped) IDX file as a numpy array."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{path!r} not found. On Debian/Ubuntu install Fashion-MNIST "
            "with `apt-get install dataset-fashion-mnist`."
        )
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path!r} is not an unsigned-byte IDX file.")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    if len(data) - header != int(np.prod(shape)):
        raise ValueError(
            f"{path!r}: header says shape {shape} but the file holds "
            f"{len(data) - header} values."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _read_split(directory, prefix):
    x = read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"))
    if len(x) != len(y):
        raise ValueError(
            f"{directory}: {len(x)} {prefix} images but {len(y)} labels."
        )
    return x, y.astype("int64")


def load_fashion_mnist(
    num_train, num_val, num_test, seed=0, directory=DEFAULT_DIR
):
    """Loads a seeded subset of Fashion-MNIST (28x28 grey, 10 classes).

    Training and validation examples are drawn (disjoint) from the official
    60,000-image training set, test examples from the official 10,000-image
    test set.

    Args:
        num_train: int. Number of training images.
        num_val: int. Number of validation images (carved from train).
        num_test: int. Number of test images (from the official test set).
        seed: int. Seed of the draw. Defaults to `0`.
        directory: str. Folder with the four `*-ubyte.gz` files.

    Returns:
        `((x_train, y_train), (x_val, y_val), (x_test, y_test)), class_names`
        with uint8 images `[N, 28, 28]` and int64 labels in [0, 10).
    """
    check_sizes(num_train, num_val, num_test)
    x_train, y_train = _read_split(directory, "train")
    x_test, y_test = _read_split(directory, "t10k")
    train_idx, val_idx = split_indices(
        len(x_train), (num_train, num_val), seed, "training images"
    )
    (test_idx,) = split_indices(
        len(x_test), (num_test,), seed + 1, "test images"
    )
    out = (
        (x_train[train_idx], y_train[train_idx]),
        (x_train[val_idx], y_train[val_idx]),
        (x_test[test_idx], y_test[test_idx]),
    )
    return out, list(CLASS_NAMES)


def load_digits_8x8(num_train=1000, num_val=200, num_test=597, seed=0):
    """scikit-learn's bundled 8x8 digits (1,797 images), split like above.

    Returns:
        The same structure as `load_fashion_mnist`, images uint8 `[N, 8, 8]`
        with values 0-16, labels int64 in [0, 10).
    """
    from sklearn.datasets import load_digits

    check_sizes(num_train, num_val, num_test)
    digits = load_digits()
    x = digits.images.astype("uint8")
    y = digits.target.astype("int64")
    splits = split_indices(
        len(x), (num_train, num_val, num_test), seed, "digit images"
    )
    return (
        tuple((x[i], y[i]) for i in splits),
        [str(d) for d in range(10)],
    )
