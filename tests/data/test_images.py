"""Tests of `read_image_folder` and `load_images`."""

import numpy as np
import pytest
from PIL import Image

from keras_daam.data import check_image
from keras_daam.data import load_images
from keras_daam.data import read_image_folder

# Readers and loaders only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent


def _save(path, array, mode=None, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array, mode) if mode else Image.fromarray(array)
    image.save(path, **kwargs)
    return str(path)


def _rgb(value, size=(8, 8)):
    return np.full(size + (3,), value, np.uint8)


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "pets"
    _save(root / "cat" / "a.png", _rgb(10))
    _save(root / "cat" / "b.jpg", _rgb(200, (12, 6)))
    _save(root / "dog" / "c.png", _rgb(90))
    _save(root / "dog" / "deep" / "d.png", _rgb(60))
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "dog" / ".hidden.png").write_bytes(b"")
    (root / "emu").mkdir()
    (root / "top.png").write_bytes(b"")
    (root / ".git").mkdir()
    return root


def test_labelled_folder_skips_and_reports(folder):
    data = read_image_folder(folder)
    root = str(folder)
    assert data.source == root and data.modality == "image"
    assert data.items == [
        f"{root}/cat/a.png",
        f"{root}/cat/b.jpg",
        f"{root}/dog/c.png",
        f"{root}/dog/deep/d.png",
    ]
    assert data.labels == ["cat", "cat", "dog", "dog"]
    skipped = dict(data.skipped)
    assert skipped[f"{root}/top.png"].startswith("at the top level")
    assert skipped[f"{root}/dog/notes.txt"] == (
        "not an image file (extension '.txt')"
    )
    assert skipped[f"{root}/dog/broken.png"].startswith("unreadable image")
    assert "class 'emu' dropped" in skipped[f"{root}/emu"]
    assert data.dropped_classes == ["emu"]
    assert len(data.skipped) == 4  # hidden entries are not listed...
    assert any("hidden" in n for n in data.notes)  # ...only counted
    assert data.summary() == (
        "pets/: 4 images, 2 classes: cat 2, dog 2 "
        "(3 files skipped; 1 class dropped: emu)"
    )
    info = data.info(1)
    assert (info["format"], info["width"], info["height"]) == ("JPEG", 6, 12)
    assert len(info["sha256"]) == 64 and info["size"] > 0


def test_unlabelled_is_recursive_and_sorted(folder):
    data = read_image_folder(folder, labelled=False)
    assert data.labels is None
    names = [p[len(str(folder)) + 1 :] for p in data.items]
    assert names == ["cat/a.png", "cat/b.jpg", "dog/c.png", "dog/deep/d.png"]
    # top.png is empty, so unreadable; it is reported, not dropped quietly.
    assert f"{folder}/top.png" in dict(data.skipped)


def test_folder_without_classes_or_images(tmp_path):
    with pytest.raises(ValueError, match="no class sub-folders"):
        read_image_folder(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="No readable image.*x.txt"):
        read_image_folder(tmp_path)
    with pytest.raises(FileNotFoundError):
        read_image_folder(tmp_path / "missing")


def test_check_image_rejects_broken_file(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"hello")
    with pytest.raises(ValueError, match="cannot identify image file"):
        check_image(str(path))


def test_grayscale_palette_alpha_and_16_bit(tmp_path):
    gray = _save(tmp_path / "g.png", np.full((4, 4), 77, np.uint8))
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = 128
    alpha = _save(tmp_path / "a.png", rgba)
    palette = tmp_path / "p.png"
    Image.fromarray(_rgb(0, (4, 4))).convert("P").save(palette)
    deep = np.full((4, 4), 65535, np.uint16)
    deep[0, 0] = 257 * 100
    sixteen = _save(tmp_path / "16.png", deep)
    assert check_image(sixteen)["mode"] == "I;16"
    images, notes = load_images([gray, alpha, str(palette), sixteen], 4)
    assert images.shape == (4, 4, 4, 3) and images.dtype == np.uint8
    assert np.all(images[0] == 77)
    # 200 at half opacity on black.
    assert np.all(images[1] == round(200 * 128 / 255))
    assert np.all(images[2] == 0)
    # Full scale maps to 255 (not clipped from 65535), 257 * 100 to 100.
    assert images[3, 1, 1, 0] == 255 and images[3, 0, 0, 0] == 100
    assert "1 grayscale image converted to RGB" in notes
    assert "1 palette image converted to RGB" in notes
    assert "1 image with alpha: alpha dropped (composited on black)" in notes
    assert any(n.startswith("1 16-bit image scaled to 8 bits") for n in notes)
    assert not any("resized" in n for n in notes)


def test_resize_notes_and_stretch(tmp_path):
    paths = [
        _save(tmp_path / "a.png", _rgb(5, (10, 20))),
        _save(tmp_path / "b.png", _rgb(5, (30, 30))),
        _save(tmp_path / "c.png", _rgb(5, (16, 16))),
    ]
    images, notes = load_images(paths, 16)
    assert images.shape == (3, 16, 16, 3)
    assert np.all(images == 5)  # a flat image stays flat
    assert (
        "2 images resized to 16x16 from 2 different sizes "
        "(aspect ratio not kept: 1 stretched)" in notes
    )


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.fromarray(_rgb(v, (4, 4))) for v in (0, 255)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert check_image(str(path))["animated"]
    images, notes = load_images([str(path)], 4)
    assert np.all(images[0] == 0)
    assert "1 animated image: first frame used" in notes


def test_truncated_image_error_names_file(tmp_path):
    path = _save(
        tmp_path / "t.jpg",
        np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8),
    )
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t.jpg: cannot decode"):
        load_images([path], 8)
    with pytest.raises(ValueError, match="`image_size` must be >= 1"):
        load_images([path], 0)


def _png_rgb48(path, pixels):
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    import struct
    import zlib

    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
        )

    pixels = np.asarray(pixels, ">u2")
    height, width, _ = pixels.shape
    raw = b"".join(b"\0" + row.tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return str(path)


def test_16_bit_colour_png_is_reduced_and_noted(tmp_path):
    pixels = np.zeros((2, 2, 3))
    pixels[0, 0] = [65535, 32896, 25700]
    path = _png_rgb48(tmp_path / "rgb48.png", pixels)
    images, notes = load_images([path], 2)
    assert images[0, 0, 0].tolist() == [255, 128, 100]  # not clipped
    assert any(n.startswith("1 16-bit-per-channel colour image") for n in notes)
