"""Raw examples -> backbone inputs, with the settings that shape the features.

One factory, `make_preprocessor(extractor, preset, ...)`, serves the CLI,
`DensityAdaptiveClassifier`, the experiments and the benchmarks. Each
preprocessor records in `settings()` everything that changes the features
it leads to (sequence length, image size and resizing, sample rate, clip
length and crop policy, the preset's converter options), so a feature
cache or a saved head can refuse inputs made another way. Each counts what
it changed or cut in `notes` (e.g. "5 texts longer than 64 tokens were
truncated").

- `TextPreprocessor`: the preset's KerasHub `TextClassifierPreprocessor`
  (tokenizer + packer), padded on the right. `tokenize` returns NumPy
  arrays; `supports_length_buckets` tells extraction that a batch may be
  cut to a shorter length (its padding mask then excludes nothing real).
- `ImagePreprocessor`: image files (decoded by `keras_daam.data`) or
  uint8/float arrays, resized to a square `image_size`, then the preset's
  `ImageConverter` (its scale/offset), or scaled to [0, 1] without one.
- `AudioPreprocessor`: audio files (decoded and resampled to the
  backbone's sample rate by `keras_daam.data`) or waveforms at that rate,
  padded or cut to `audio_seconds` (`crop`), then the preset's audio
  converter (Whisper log-mel frames).
"""

import collections

import numpy as np

from keras_daam.utils import check_choice
from keras_daam.utils import check_float
from keras_daam.utils import check_positive_int
from keras_daam.utils import to_numpy

DEFAULT_SEQUENCE_LENGTH = 512
DEFAULT_IMAGE_SIZE = 224
DEFAULT_AUDIO_SECONDS = 1.0
CROPS = ("start", "center", "end")


class Preprocessor:
    """Base class: `__call__(batch) -> backbone inputs` plus `settings()`.

    Attributes:
        modality: `"text"`, `"image"` or `"audio"`.
        notes: `collections.Counter` of sentences about what was changed
            (truncated, converted, cut), counted over every batch seen.
    """

    modality = None

    def __init__(self):
        self.notes = collections.Counter()

    def settings(self):
        """A JSON-able dict of everything that changes the features."""
        raise NotImplementedError

    def __call__(self, batch):
        raise NotImplementedError

    def describe_notes(self):
        """The notes as sentences (`"5 texts ... truncated"`), sorted."""
        return [f"{n} {what}" for what, n in sorted(self.notes.items())]


def _config_of(layer, drop=("name", "trainable", "dtype")):
    config = layer.get_config() if layer is not None else {}
    return {
        k: v
        for k, v in config.items()
        if k not in drop and not isinstance(v, dict)
    }


class TextPreprocessor(Preprocessor):
    """Tokenizes texts with the preset's `TextClassifierPreprocessor`.

    Args:
        preset: str. Preset location (folder or hub name) of the tokenizer.
        sequence_length: int. Length texts are padded or truncated to.
            Defaults to the backbone's maximum, at most 512.
        max_sequence_length: int or None. The backbone's limit; a longer
            `sequence_length` is refused.
    """

    modality = "text"

    def __init__(self, preset, sequence_length=None, max_sequence_length=None):
        super().__init__()
        import keras_hub

        if sequence_length is None:
            sequence_length = min(
                max_sequence_length or DEFAULT_SEQUENCE_LENGTH,
                DEFAULT_SEQUENCE_LENGTH,
            )
        sequence_length = check_positive_int("sequence_length", sequence_length)
        if max_sequence_length and sequence_length > max_sequence_length:
            raise ValueError(
                f"`sequence_length` must be <= {max_sequence_length}, the "
                "backbone's maximum (its position embeddings end there). "
                f"Received: sequence_length={sequence_length}"
            )
        if sequence_length < 3:
            raise ValueError(
                "`sequence_length` must leave room for the start and end "
                "tokens and at least one token of text (>= 3). Received: "
                f"sequence_length={sequence_length}"
            )
        try:
            self.layer = (
                keras_hub.models.TextClassifierPreprocessor.from_preset(
                    preset, sequence_length=sequence_length
                )
            )
        except Exception as error:  # noqa: BLE001 - named for the user
            raise ValueError(
                f"Cannot load a text preprocessor (tokenizer) from "
                f"{preset!r}: {error}"
            ) from None
        self.sequence_length = sequence_length
        self.max_sequence_length = max_sequence_length

    @property
    def tokenizer(self):
        """The preset's KerasHub tokenizer."""
        return self.layer.tokenizer

    def settings(self):
        tokenizer = getattr(self.layer, "tokenizer", None)
        return {
            "modality": "text",
            "preprocessor_class": type(self.layer).__name__,
            "tokenizer_class": type(tokenizer).__name__,
            "sequence_length": self.sequence_length,
            "truncate": getattr(self.layer, "truncate", None),
        }

    def tokenize(self, texts):
        """Token inputs of `texts` (a list of str) as NumPy arrays,
        `[n, sequence_length]` each; counts truncated texts in `notes`."""
        texts = [str(t) for t in texts]
        out = self.layer(texts)
        if isinstance(out, tuple):
            out = out[0]
        out = to_numpy(dict(out))
        mask = out.get("padding_mask")
        if mask is not None:
            # A full row is a text that reached the length: truncated or
            # exactly as long (the tokenizer does not say which).
            full = int(np.sum(np.asarray(mask, bool).all(axis=1)))
            if full:
                self.notes[
                    f"text(s) filled all {self.sequence_length} tokens "
                    "(truncated if longer)"
                ] += full
        return out

    __call__ = tokenize

    @property
    def supports_length_buckets(self):
        """True: the packer pads on the right, so a batch can be cut to
        the smallest length that keeps every real token."""
        return True


class ImagePreprocessor(Preprocessor):
    """Images (files or arrays) -> backbone inputs of one square size.

    Args:
        preset: str. Preset location; its `ImageConverter` (scale, offset)
            is used when it has one, else pixels are scaled to [0, 1].
        image_size: int. Side of the square the images are resized to
            (aspect ratio not kept). Defaults to the converter's size, else
            the backbone's fixed input size, else 224.
        fixed_size: int or None. The backbone's fixed input side (ViT,
            DINOv2); another `image_size` is refused.
    """

    modality = "image"

    def __init__(self, preset, image_size=None, fixed_size=None):
        super().__init__()
        import keras_hub

        try:
            converter = keras_hub.layers.ImageConverter.from_preset(preset)
        except Exception:  # noqa: BLE001 - the preset has no converter
            converter = None
        default = fixed_size
        if default is None and converter is not None and converter.image_size:
            default = int(converter.image_size[0])
        image_size = check_positive_int(
            "image_size",
            image_size if image_size is not None else default or 224,
        )
        if fixed_size and image_size != fixed_size:
            raise ValueError(
                f"`image_size` must be {fixed_size}: this backbone takes "
                f"{fixed_size} x {fixed_size} images only. Received: "
                f"image_size={image_size}"
            )
        if converter is not None:
            converter.image_size = (image_size, image_size)
        self.converter = converter
        self.image_size = image_size

    def settings(self):
        return {
            "modality": "image",
            "image_size": self.image_size,
            "resize": "bilinear to a square, aspect ratio not kept",
            "color": "RGB",
            "converter": _config_of(self.converter) or "scale to [0, 1]",
        }

    def __call__(self, batch):
        if _is_paths(batch):
            from keras_daam.data import load_images

            # What decoding changes (modes, sizes) is known from the files'
            # headers before extraction: `keras_daam.pipeline.extract.
            # image_notes` reports it once, not per batch.
            batch, _ = load_images(list(batch), self.image_size)
        x = np.asarray(batch)
        if x.ndim == 3:
            x = np.repeat(x[..., None], 3, axis=-1)
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(
                "Images must be `[n, height, width, 3]` (or `[n, height, "
                f"width]` grey). Received shape {x.shape}."
            )
        x = x.astype("float32")
        if x.shape[1:3] != (self.image_size, self.image_size):
            from keras import ops

            x = to_numpy(
                ops.image.resize(
                    x, (self.image_size, self.image_size), antialias=True
                )
            )
        if self.converter is None:
            return x / 255.0
        return to_numpy(self.converter(x))


class AudioPreprocessor(Preprocessor):
    """Audio (files or waveforms) -> the preset's audio converter inputs.

    Args:
        preset: str. Preset location; its audio converter (Whisper log-mel)
            when it has one, else a `keras_hub.layers.WhisperAudioConverter`.
        audio_seconds: float. Every clip is padded or cut to this length.
            Defaults to 1.0.
        crop: `"start"`, `"center"` or `"end"`: which part of a longer clip
            is kept. Defaults to `"start"`.
        max_seconds: float or None. The backbone's limit (Whisper: 30 s).
    """

    modality = "audio"

    def __init__(
        self, preset, audio_seconds=None, crop="start", max_seconds=None
    ):
        super().__init__()
        import keras_hub

        seconds = check_float(
            "audio_seconds",
            DEFAULT_AUDIO_SECONDS if audio_seconds is None else audio_seconds,
            minimum=0.0,
            include_minimum=False,
        )
        if max_seconds and seconds > max_seconds:
            raise ValueError(
                f"`audio_seconds` must be <= {max_seconds:g}: the backbone "
                f"takes at most {max_seconds:g} s. Received: "
                f"audio_seconds={seconds:g}"
            )
        self.crop = check_choice("crop", crop, CROPS)
        try:
            converter = keras_hub.layers.AudioConverter.from_preset(preset)
        except Exception:  # noqa: BLE001 - the preset has no converter
            converter = keras_hub.layers.WhisperAudioConverter()
        self.sample_rate = int(converter.sampling_rate)
        self.num_samples = int(round(seconds * self.sample_rate))
        if self.num_samples < 400:
            raise ValueError(
                "`audio_seconds` is too short for one analysis window of the "
                f"audio converter (400 samples at {self.sample_rate} Hz). "
                f"Received: audio_seconds={seconds:g}"
            )
        converter.max_audio_length = seconds
        # KerasHub sizes its buffer with `sampling_rate * max_audio_length`,
        # a float for fractional seconds: keep it an int.
        converter.num_samples = self.num_samples
        self.converter = converter
        self.audio_seconds = seconds

    def settings(self):
        return {
            "modality": "audio",
            "sample_rate": self.sample_rate,
            "audio_seconds": self.audio_seconds,
            "num_samples": self.num_samples,
            "crop": self.crop,
            "channels": "mono (mean of channels)",
            "converter": _config_of(self.converter),
        }

    def __call__(self, batch):
        from keras_daam.data import fix_length

        if _is_paths(batch):
            from keras_daam.data import read_audio

            batch = [read_audio(path, self.sample_rate)[0] for path in batch]
        waves, info = fix_length(list(batch), self.num_samples, self.crop)
        if info.get("num_cut"):
            self.notes[
                f"clip(s) longer than {self.audio_seconds:g} s were cut "
                f"(crop={self.crop})"
            ] += int(info["num_cut"])
        features = to_numpy(self.converter(np.asarray(waves, "float32")))
        return {"encoder_features": features}


def _is_paths(batch):
    import os

    if isinstance(batch, np.ndarray):
        return batch.dtype.kind in ("U", "S", "O") and batch.ndim == 1
    return (
        isinstance(batch, (list, tuple))
        and len(batch) > 0
        and isinstance(batch[0], (str, os.PathLike))
    )


def _backbone_limits(backbone):
    """(max sequence length, fixed image side, max audio seconds)."""
    max_len = getattr(backbone, "max_sequence_length", None)
    fixed = None
    shape = getattr(backbone, "image_shape", None)
    if shape and shape[0] and shape[0] == shape[1]:
        family = type(backbone).__name__
        # Convolutional backbones take any size; transformers with
        # position embeddings only their own.
        if "EfficientNet" not in family and "ResNet" not in family:
            fixed = int(shape[0])
    max_seconds = None
    frames = getattr(backbone, "max_encoder_sequence_length", None)
    if frames:
        max_seconds = frames / 100.0  # Whisper: 100 log-mel frames a second
    return max_len, fixed, max_seconds


def make_preprocessor(
    extractor,
    preset,
    sequence_length=None,
    image_size=None,
    audio_seconds=None,
    crop="start",
):
    """The preprocessor for `extractor`'s modality, limits checked.

    Args:
        extractor: a `keras_daam.backbones.LayerwiseFeatureExtractor`.
        preset: str. The preset location (folder or hub name) whose
            tokenizer / converters to load.
        sequence_length: int, optional (text). Defaults to the backbone's
            maximum, at most 512; longer than the maximum is refused.
        image_size: int, optional (image). Defaults to the preset's size.
        audio_seconds: float, optional (audio). Defaults to 1.0.
        crop: str (audio). `"start"`, `"center"` or `"end"`.

    Returns:
        A `TextPreprocessor`, `ImagePreprocessor` or `AudioPreprocessor`.

    Raises:
        ValueError: an option out of range (the message names it, the
            value and the backbone's limit), or a preset without the
            tokenizer the modality needs.
    """
    max_len, fixed, max_seconds = _backbone_limits(extractor.backbone)
    if extractor.modality == "text":
        return TextPreprocessor(preset, sequence_length, max_len)
    if extractor.modality == "image":
        return ImagePreprocessor(preset, image_size, fixed)
    if extractor.modality == "audio":
        return AudioPreprocessor(preset, audio_seconds, crop, max_seconds)
    raise ValueError(f"Unsupported modality {extractor.modality!r}.")
