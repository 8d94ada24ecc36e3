"""Image folders: checked up front, decoded to RGB with every change noted."""

import hashlib
import io
import os
from collections import Counter

import numpy as np

from keras_daam.data.dataset import Dataset
from keras_daam.data.folders import drop_empty_classes
from keras_daam.data.folders import list_folder
from keras_daam.utils import check_positive_int

# What Pillow reads (without plug-ins) among the common formats.
IMAGE_EXTENSIONS = (
    ".png",
    ".jpg",
    ".jpeg",
    ".bmp",
    ".gif",
    ".tif",
    ".tiff",
    ".webp",
)
_MODE_NAMES = {
    "1": "1-bit",
    "L": "grayscale",
    "LA": "grayscale+alpha",
    "P": "palette",
    "PA": "palette+alpha",
    "RGB": "RGB",
    "RGBA": "RGBA",
    "CMYK": "CMYK",
    "YCbCr": "YCbCr",
    "I;16": "16-bit grayscale",
    "I;16B": "16-bit grayscale",
    "I;16L": "16-bit grayscale",
    "I;16N": "16-bit grayscale",
    "I": "32-bit integer",
    "F": "32-bit float",
}
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_ORIENTATION = 0x0112  # The EXIF tag.


def _pil():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow ships with Keras
        raise ImportError(
            "Reading images needs Pillow: `pip install pillow`."
        ) from e
    return Image


def _plural(n, word, plural=None):
    return f"{n} {word if n == 1 else plural or word + 's'}"


def check_image(path):
    """Checks that a file is an image Pillow can read, without decoding it.

    Reads the file once: its SHA-256 is taken from the same bytes, and
    Pillow's `verify()` checks the structure (for PNG, every chunk's
    checksum) without decoding the pixels.

    Args:
        path: str. The file.

    Returns:
        dict with `size` (bytes), `sha256`, `format` (e.g. `"PNG"`), `mode`
        (Pillow's, e.g. `"RGB"`, `"L"`, `"I;16"`), `width`, `height` and
        `animated` (more than one frame).

    Raises:
        ValueError: the file is not an image Pillow can read, with the
            reason.

    Example:

    >>> import numpy as np, tempfile, os
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.fromarray(np.zeros((4, 6), "uint8")).save(path)
    >>> info = check_image(path)
    >>> info["mode"], info["width"], info["height"]
    ('L', 6, 4)
    """
    Image = _pil()
    from PIL import UnidentifiedImageError

    with open(path, "rb") as f:
        data = f.read()
    info = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    try:
        with Image.open(io.BytesIO(data)) as img:
            info.update(
                format=img.format,
                mode=img.mode,
                width=img.width,
                height=img.height,
                animated=bool(getattr(img, "is_animated", False)),
            )
            img.verify()
    except UnidentifiedImageError:
        raise ValueError("not an image: cannot identify image file") from None
    except Exception as e:  # Pillow raises many types for broken files.
        raise ValueError(f"unreadable image: {type(e).__name__}: {e}") from None
    return info


def _scan_notes(infos):
    notes = []
    modes = Counter(_MODE_NAMES.get(i["mode"], i["mode"]) for i in infos)
    if set(modes) != {"RGB"}:
        notes.append(
            "image modes: "
            + ", ".join(f"{n} {m}" for m, n in modes.most_common())
        )
    sizes = Counter((i["width"], i["height"]) for i in infos)
    if len(sizes) == 1:
        ((w, h),) = sizes
        notes.append(f"all images are {w}x{h}")
    else:
        areas = sorted(sizes, key=lambda s: (s[0] * s[1], s))
        notes.append(
            f"images come in {len(sizes)} sizes, from "
            f"{areas[0][0]}x{areas[0][1]} to {areas[-1][0]}x{areas[-1][1]}"
        )
    animated = sum(i["animated"] for i in infos)
    if animated:
        notes.append(
            f"{_plural(animated, 'animated image')}: only the first frame "
            "is used"
        )
    return notes


def read_image_folder(path, labelled=True):
    """Lists and checks the images of a folder, without decoding them.

    Labelled: `path/<class>/<image>` (files deeper in a class folder belong
    to it). Unlabelled: every image below `path`, at any depth, sorted by
    relative path. Hidden files and folders are ignored. Each file is
    checked up front with Pillow (`check_image`: `Image.open` and
    `verify()`, not a full decode) and hashed in the same pass, so
    unreadable files are reported before any backbone runs. Left out, each
    with a reason in `skipped`: files whose extension is not an image
    format (`IMAGE_EXTENSIONS`), files Pillow cannot read, files at the top
    level of a labelled folder, and class folders left without a readable
    image (also in `dropped_classes`). `notes` sums up the modes and sizes
    found; `load_images` decodes.

    Args:
        path: str or path. The folder.
        labelled: bool. Whether the sub-folders are classes. Defaults to
            `True`.

    Returns:
        A `Dataset` with `modality="image"`, the absolute image paths as
        `items` and, per image, `info(i)` from `check_image`.

    Example:

    >>> import numpy as np, pathlib, tempfile
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("cat", "dog"):
    ...     (root / name).mkdir()
    ...     Image.fromarray(np.zeros((8, 8, 3), "uint8")).save(
    ...         root / name / "1.png")
    >>> data = read_image_folder(root)
    >>> data.labels
    ['cat', 'dog']
    """
    root, files, labels, classes, skipped, notes = list_folder(
        path, labelled, "images"
    )
    items, kept_labels, infos = [], [], []
    for i, file in enumerate(files):
        extension = os.path.splitext(file)[1].lower()
        if extension not in IMAGE_EXTENSIONS:
            shown = repr(extension) if extension else "none"
            skipped.append((file, f"not an image file (extension {shown})"))
            continue
        try:
            infos.append(check_image(file))
        except ValueError as e:
            skipped.append((file, str(e)))
            continue
        items.append(file)
        if labelled:
            kept_labels.append(labels[i])
    dropped = []
    if labelled:
        dropped, dropped_skipped = drop_empty_classes(
            classes, kept_labels, root, "images"
        )
        skipped.extend(dropped_skipped)
    if not items:
        reasons = "; ".join(f"{w}: {why}" for w, why in skipped[:5])
        raise ValueError(
            f"No readable image under {root}"
            + (f" ({len(skipped)} skipped: {reasons})" if skipped else ".")
        )
    notes.extend(_scan_notes(infos))
    return Dataset(
        modality="image",
        source=root,
        items=items,
        labels=kept_labels if labelled else None,
        skipped=skipped,
        notes=notes,
        item_info=infos,
        dropped_classes=dropped,
    )


def _scaled_to_uint8(values, full_scale):
    """Integers or floats in [0, full_scale] -> uint8, rounded, not cut."""
    values = np.asarray(values, np.float64) * (255.0 / full_scale)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _to_rgb(img, Image, counts):
    """An RGB Pillow image, counting each kind of conversion."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        counts["palette"] += 1
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
        if mode == "RGB":
            return img
    if mode == "PA":
        counts["palette"] += 1
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("LA", "La"):
        counts["grayscale"] += 1
    if mode in _ALPHA_MODES:
        counts["alpha"] += 1
        rgba = np.asarray(img.convert("RGBA"), np.float64)
        # Composited on black: colour times opacity.
        rgb = rgba[..., :3] * (rgba[..., 3:] / 255.0)
        return Image.fromarray(np.rint(rgb).astype(np.uint8), "RGB")
    if mode in ("L", "1"):
        counts["grayscale" if mode == "L" else "1-bit"] += 1
        return img.convert("RGB")
    if mode.startswith("I;16"):
        counts["16-bit"] += 1
        gray = _scaled_to_uint8(np.asarray(img), 65535)
        return Image.fromarray(gray, "L").convert("RGB")
    if mode in ("I", "F"):
        values = np.asarray(img, np.float64)
        low, high = float(values.min()), float(values.max())
        if mode == "I" and low >= 0 and high <= 65535:
            # PNG and TIFF 16-bit grayscale may open as 32-bit "I".
            counts["16-bit"] += 1
            gray = _scaled_to_uint8(values, 65535)
        elif mode == "F" and low >= 0 and high <= 1:
            counts["float"] += 1
            gray = _scaled_to_uint8(values, 1.0)
        else:
            counts["rescaled"] += 1
            span = high - low if high > low else 1.0
            gray = _scaled_to_uint8(values - low, span)
        return Image.fromarray(gray, "L").convert("RGB")
    counts[mode] += 1
    return img.convert("RGB")


def _wide_channels(img):
    """Whether Pillow reads 16 bits per channel into an 8-bit colour mode."""
    # Pillow has no 16-bit colour mode: a 48/64-bit PNG or TIFF opens as
    # RGB(A) and its decoder keeps each sample's high byte. The raw mode of
    # the tile (e.g. "RGB;16B") is the only place that says so.
    tiles = getattr(img, "tile", None) or []
    return any(";16" in str(tile[3]) for tile in tiles[:1])


_CONVERSION_NOTES = {
    "grayscale": "grayscale {images} converted to RGB",
    "1-bit": "1-bit black-and-white {images} converted to RGB",
    "palette": "palette {images} converted to RGB",
    "alpha": "{images} with alpha: alpha dropped (composited on black)",
    "16-bit": "16-bit {images} scaled to 8 bits (value * 255 / 65535)",
    "16-bit colour": (
        "16-bit-per-channel colour {images} reduced to 8 bits (Pillow "
        "keeps the high byte: value // 256)"
    ),
    "float": "floating-point {images} in [0, 1] scaled to 8 bits",
    "rescaled": (
        "{images} with values outside the 8/16-bit range rescaled from "
        "their own minimum and maximum to 0-255"
    ),
    "animated": "animated {images}: first frame used",
    "rotated": "{images} rotated as their EXIF orientation says",
}


def load_images(paths, image_size):
    """Decodes images to a square RGB uint8 array, noting every change.

    Each image is decoded with Pillow and turned to 8-bit RGB:
    grayscale, 1-bit and palette images are converted; an alpha channel is
    dropped by compositing the image on black (colour times opacity, so
    transparent pixels become black); 16-bit images are scaled to 8 bits
    by `value * 255 / 65535`, rounded (not cut to 255), and 16-bit colour
    images, which Pillow itself reduces to 8 bits by keeping each sample's
    high byte, are counted in the notes; other modes (CMYK,
    YCbCr, ...) go through Pillow's `convert("RGB")`. An animated image
    gives its first frame; a photo with an EXIF orientation is rotated as
    a viewer shows it. Then every image is resized to
    `image_size x image_size` with Pillow's bilinear filter (which
    averages over the whole footprint when shrinking, so it does not
    alias): the aspect ratio is not kept, a non-square image is stretched.

    Args:
        paths: sequence of str. The image files (e.g. a `Dataset`'s
            `items`).
        image_size: int. The side of the output images, in pixels.

    Returns:
        `(images, notes)`: uint8 `[len(paths), image_size, image_size, 3]`
        and a list of sentences counting each kind of change, e.g.
        `"2 grayscale images converted to RGB"`,
        `"5 images resized to 224x224 from 3 different sizes"`.

    Raises:
        ValueError: an image cannot be decoded (naming the file); a file
            can pass `check_image` and still be truncated.

    Example:

    >>> import numpy as np, os, tempfile
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.fromarray(np.zeros((4, 6), "uint8")).save(path)
    >>> images, notes = load_images([path], 8)
    >>> images.shape
    (1, 8, 8, 3)
    >>> notes[0]
    '1 grayscale image converted to RGB'
    """
    Image = _pil()
    from PIL import ImageOps

    image_size = check_positive_int("image_size", image_size)
    paths = list(paths)
    out = np.zeros((len(paths), image_size, image_size, 3), np.uint8)
    counts = Counter()
    sizes = Counter()
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                if getattr(img, "is_animated", False):
                    counts["animated"] += 1
                    img.seek(0)
                if img.mode in ("RGB", "RGBA") and _wide_channels(img):
                    counts["16-bit colour"] += 1
                if img.getexif().get(_ORIENTATION, 1) != 1:
                    counts["rotated"] += 1
                    img = ImageOps.exif_transpose(img)
                img.load()
                rgb = _to_rgb(img, Image, counts)
                if rgb.size != (image_size, image_size):
                    sizes[rgb.size] += 1
                    rgb = rgb.resize(
                        (image_size, image_size), Image.Resampling.BILINEAR
                    )
                out[i] = np.asarray(rgb, np.uint8)
        except (OSError, ValueError) as e:
            raise ValueError(
                f"{path}: cannot decode the image: {type(e).__name__}: {e}"
            ) from None
    notes = []
    for kind, template in _CONVERSION_NOTES.items():
        if counts[kind]:
            images = "image" if counts[kind] == 1 else "images"
            notes.append(f"{counts[kind]} " + template.format(images=images))
    for kind in sorted(set(counts) - set(_CONVERSION_NOTES)):
        notes.append(
            f"{_plural(counts[kind], kind + ' image')} converted to RGB"
        )
    if sizes:
        total = sum(sizes.values())
        target = f"{image_size}x{image_size}"
        if len(sizes) == 1:
            ((w, h),) = sizes
            origin = f"from {w}x{h}"
        else:
            origin = f"from {len(sizes)} different sizes"
        stretched = sum(n for (w, h), n in sizes.items() if w != h)
        note = f"{_plural(total, 'image')} resized to {target} {origin}"
        if stretched:
            note += f" (aspect ratio not kept: {stretched} stretched)"
        notes.append(note)
    return out, notes
