"""Audio folders and WAV decoding: full-scale floats, exact resampling."""

import hashlib
import io
import math
import os
import struct
import warnings
from collections import Counter

import numpy as np

from keras_daam.data.dataset import Dataset
from keras_daam.data.folders import drop_empty_classes
from keras_daam.data.folders import list_folder
from keras_daam.utils import check_choice
from keras_daam.utils import check_positive_int

AUDIO_EXTENSIONS = (".wav", ".wave")
# Formats people have that no installed library here decodes.
_UNSUPPORTED = (
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".m4a",
    ".aac",
    ".wma",
    ".aif",
    ".aiff",
    ".webm",
)
CROP_MODES = ("start", "center", "end")
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_FORMAT_TAGS = {1: "PCM", 3: "IEEE float"}


def _wav_header(data):
    """`(format tag, bits per sample)` from the RIFF 'fmt ' chunk, or None.

    scipy decodes the samples but does not return the header; 24-bit PCM
    comes back as int32, so the bit depth is read here.
    """
    if len(data) < 12 or data[8:12] != b"WAVE":
        return None
    if data[:4] in (b"RIFF", b"RF64"):
        endian = "<"
    elif data[:4] == b"RIFX":
        endian = ">"
    else:
        return None
    pos = 12
    while pos + 8 <= len(data):
        chunk = data[pos : pos + 4]
        (size,) = struct.unpack(endian + "I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if chunk == b"fmt " and len(body) >= 16:
            tag, _, _, _, _, bits = struct.unpack(endian + "HHIIHH", body[:16])
            if tag == _WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                (valid,) = struct.unpack(endian + "H", body[18:20])
                (tag,) = struct.unpack(endian + "H", body[24:26])
                bits = valid or bits
            return tag, bits
        pos += 8 + size + (size & 1)
    return None


def _decode_wav(data):
    """`(rate, samples, header, warnings)` of WAV bytes, via scipy."""
    from scipy.io import wavfile

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", wavfile.WavFileWarning)
        rate, samples = wavfile.read(io.BytesIO(data))
    messages = []
    for w in caught:
        if not issubclass(w.category, wavfile.WavFileWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        elif "not understood" not in str(w.message):
            # Unknown chunks (LIST, cue, ...) are metadata; skip silently.
            messages.append(str(w.message))
    return rate, samples, _wav_header(data), messages


def _sample_format(samples, header):
    """`(sample_format, bit_depth, full_scale, offset)` of decoded samples."""
    kind, width = samples.dtype.kind, samples.dtype.itemsize * 8
    bits = header[1] if header else width
    if kind == "f":
        return "float", width, 1.0, 0.0
    if kind == "u":  # 8-bit (and fewer) WAV is unsigned, centred on 128.
        return "pcm", bits if bits <= 8 else 8, 128.0, 128.0
    # scipy puts 24-bit (and 40-56-bit) samples in the top bits of int32
    # (int64), so the container's full scale is the right divisor.
    return "pcm", bits if bits <= width else width, 2.0 ** (width - 1), 0.0


def _wav_info(rate, samples, header, messages):
    sample_format, bits, _, _ = _sample_format(samples, header)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    frames = samples.shape[0]
    return {
        "sample_rate": int(rate),
        "channels": int(channels),
        "bit_depth": int(bits),
        "sample_format": sample_format,
        "num_frames": int(frames),
        "duration": frames / rate if rate else 0.0,
        "warnings": messages,
    }


def read_audio(path, sample_rate):
    """Reads a WAV file as a mono float32 waveform at `sample_rate`.

    Decoded with `scipy.io.wavfile` (PCM 8-bit unsigned, 16-, 24- and
    32-bit integer, 32- and 64-bit float, any number of channels).
    Integers are divided by their format's full scale (128 for 8-bit,
    32768 for 16-bit, 2**31 for 24- and 32-bit), so they land in [-1, 1);
    float files are kept as they are (a float file may exceed 1: `peak`
    says). Channels are averaged into one. A file at another rate is
    resampled with `scipy.signal.resample_poly` by the exact ratio, e.g.
    44,100 -> 16,000 Hz is up 160, down 441 (a polyphase filter with a
    Kaiser window: no aliasing, pitch kept).

    Args:
        path: str or path. The WAV file.
        sample_rate: int. The rate of the returned waveform, in Hz.

    Returns:
        `(waveform, info)`: float32 `[num_samples]`, and a dict with the
        file's `sample_rate`, `channels`, `bit_depth`, `sample_format`
        (`"pcm"` or `"float"`), `num_frames`, `duration` (seconds),
        `warnings` (scipy's, e.g. a truncated file), and what was done:
        `resampled` and `mixed_down` (bools), `output_sample_rate`,
        `peak` (largest absolute value after scaling, before
        resampling).

    Example:

    >>> import numpy as np, os, tempfile
    >>> from scipy.io import wavfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> wavfile.write(path, 22050, np.zeros((22050, 2), "int16"))
    >>> wave, info = read_audio(path, 16000)
    >>> wave.shape, info["resampled"], info["mixed_down"]
    ((16000,), True, True)
    """
    from scipy.signal import resample_poly

    sample_rate = check_positive_int("sample_rate", sample_rate)
    with open(path, "rb") as f:
        data = f.read()
    try:
        rate, samples, header, messages = _decode_wav(data)
    except Exception as e:  # scipy raises ValueError, struct.error, ...
        raise ValueError(
            f"{path}: cannot decode as WAV: {type(e).__name__}: {e}"
        ) from None
    info = _wav_info(rate, samples, header, messages)
    _, _, full_scale, offset = _sample_format(samples, header)
    # float32 holds 8-, 16- and 24-bit samples exactly.
    wave = samples.astype(np.float32)
    if offset:
        wave -= np.float32(offset)
    if full_scale != 1.0:
        wave /= np.float32(full_scale)
    if wave.ndim > 1:
        wave = wave.mean(axis=1, dtype=np.float64).astype(np.float32)
    info["peak"] = float(np.abs(wave).max()) if wave.size else 0.0
    info["mixed_down"] = info["channels"] > 1
    info["resampled"] = rate != sample_rate and wave.size > 0
    info["output_sample_rate"] = sample_rate
    if info["resampled"]:
        g = math.gcd(sample_rate, int(rate))
        wave = resample_poly(wave, sample_rate // g, int(rate) // g)
    return np.asarray(wave, np.float32), info


def check_audio(path):
    """Checks that a file is a WAV file scipy can decode, and hashes it.

    The whole file is read once and decoded (a WAV header alone does not
    show a truncated file), and its SHA-256 is taken from the same bytes.

    Args:
        path: str. The file.

    Returns:
        dict with `size` (bytes), `sha256`, and the header's
        `sample_rate`, `channels`, `bit_depth`, `sample_format`,
        `num_frames`, `duration` and `warnings` (as `read_audio`).

    Raises:
        ValueError: the file is not a decodable WAV file, or it holds no
            samples, with the reason.

    Example:

    >>> import numpy as np, os, tempfile
    >>> from scipy.io import wavfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> wavfile.write(path, 8000, np.zeros(800, "int16"))
    >>> info = check_audio(path)
    >>> info["sample_rate"], info["bit_depth"], info["duration"]
    (8000, 16, 0.1)
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        info = _wav_info(*_decode_wav(data))
    except Exception as e:  # scipy raises ValueError, struct.error, ...
        raise ValueError(
            f"not a readable WAV file: {type(e).__name__}: {e}"
        ) from None
    if info["num_frames"] == 0:
        raise ValueError("no samples")
    info.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    return info


def _scan_notes(infos, files):
    notes = []
    rates = Counter(i["sample_rate"] for i in infos)
    notes.append(
        "sample rates: "
        + ", ".join(f"{n} at {r} Hz" for r, n in sorted(rates.items()))
    )
    kinds = {"float": "float", "pcm": "PCM"}
    formats = Counter(
        f"{i['bit_depth']}-bit {kinds[i['sample_format']]}" for i in infos
    )
    notes.append(
        "sample formats: "
        + ", ".join(f"{n} {f}" for f, n in formats.most_common())
    )
    channels = Counter(i["channels"] for i in infos)
    if set(channels) != {1}:
        notes.append(
            "channels: "
            + ", ".join(f"{n} with {c}" for c, n in sorted(channels.items()))
            + " (averaged to mono when read)"
        )
    durations = [i["duration"] for i in infos]
    notes.append(f"durations: {min(durations):.2f} s to {max(durations):.2f} s")
    for info, file in zip(infos, files):
        for message in info["warnings"]:
            notes.append(f"{file}: {message}")
    return notes


def read_audio_folder(path, labelled=True):
    """Lists and checks the WAV files of a folder.

    Labelled: `path/<class>/<file>.wav` (files deeper in a class folder
    belong to it). Unlabelled: every WAV file below `path`, at any depth,
    sorted by relative path. Hidden files and folders are ignored. Each
    file is decoded once up front (`check_audio`) and hashed in the same
    pass; its sample rate, channels, bit depth and duration are in
    `info(i)`, and `notes` sums them up. Left out, each with a reason in
    `skipped`: files that are not `.wav` (FLAC, Ogg, MP3 and the like are
    named as formats that cannot be decoded here: convert them to WAV),
    WAV files scipy cannot decode or that hold no samples, files at the
    top level of a labelled folder, and class folders left without a
    readable file (also in `dropped_classes`). `read_audio` decodes.

    Args:
        path: str or path. The folder.
        labelled: bool. Whether the sub-folders are classes. Defaults to
            `True`.

    Returns:
        A `Dataset` with `modality="audio"` and the absolute file paths as
        `items`.

    Example:

    >>> import numpy as np, pathlib, tempfile
    >>> from scipy.io import wavfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("no", "yes"):
    ...     (root / name).mkdir()
    ...     wavfile.write(root / name / "1.wav", 16000, np.zeros(160, "int16"))
    >>> data = read_audio_folder(root)
    >>> data.labels, data.info(0)["sample_rate"]
    (['no', 'yes'], 16000)
    """
    root, files, labels, classes, skipped, notes = list_folder(
        path, labelled, "audio files"
    )
    items, kept_labels, infos = [], [], []
    for i, file in enumerate(files):
        extension = os.path.splitext(file)[1].lower()
        if extension in _UNSUPPORTED:
            skipped.append(
                (
                    file,
                    f"{extension} audio cannot be decoded here (only WAV is "
                    "supported): convert it to WAV, e.g. `ffmpeg -i "
                    f"in{extension} out.wav`",
                )
            )
            continue
        if extension not in AUDIO_EXTENSIONS:
            shown = repr(extension) if extension else "none"
            skipped.append((file, f"not a .wav file (extension {shown})"))
            continue
        try:
            infos.append(check_audio(file))
        except ValueError as e:
            skipped.append((file, str(e)))
            continue
        items.append(file)
        if labelled:
            kept_labels.append(labels[i])
    dropped = []
    if labelled:
        dropped, dropped_skipped = drop_empty_classes(
            classes, kept_labels, root, "WAV files"
        )
        skipped.extend(dropped_skipped)
    if not items:
        reasons = "; ".join(f"{w}: {why}" for w, why in skipped[:5])
        raise ValueError(
            f"No readable WAV file under {root}"
            + (f" ({len(skipped)} skipped: {reasons})" if skipped else ".")
        )
    notes.extend(_scan_notes(infos, items))
    return Dataset(
        modality="audio",
        source=root,
        items=items,
        labels=kept_labels if labelled else None,
        skipped=skipped,
        notes=notes,
        item_info=infos,
        dropped_classes=dropped,
    )


def fix_length(waveforms, num_samples, crop="start"):
    """Pads with zeros or cuts waveforms to one fixed length.

    A model fed fixed-length inputs (Whisper's log-mel frames, for one)
    sees the same duration for every clip; this says how many clips had
    to change, so a caller can warn when many were cut.

    Args:
        waveforms: sequence of 1-D arrays (or a 2-D array), one per clip.
        num_samples: int. The output length.
        crop: str. Which part of a longer clip is kept: `"start"` (the
            first `num_samples`), `"center"` or `"end"` (the last). A
            shorter clip is always padded with zeros at its end. Defaults
            to `"start"`.

    Returns:
        `(waves, info)`: float32 `[len(waveforms), num_samples]`, and a
        dict with `num_clips`, `num_cut` (clips longer than
        `num_samples`), `num_padded` (shorter), `num_samples`, `crop`,
        and the `longest` and `shortest` input lengths.

    Example:

    >>> waves, info = fix_length([np.ones(5), np.ones(2)], 3)
    >>> waves.tolist(), info["num_cut"], info["num_padded"]
    ([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], 1, 1)
    """
    num_samples = check_positive_int("num_samples", num_samples)
    check_choice("crop", crop, CROP_MODES)
    waveforms = list(waveforms)
    out = np.zeros((len(waveforms), num_samples), np.float32)
    lengths = []
    for i, wave in enumerate(waveforms):
        wave = np.asarray(wave, np.float32)
        if wave.ndim != 1:
            raise ValueError(
                f"Each waveform must be 1-D (mono). Waveform {i} has shape "
                f"{wave.shape}."
            )
        length = len(wave)
        lengths.append(length)
        if length > num_samples:
            start = {
                "start": 0,
                "center": (length - num_samples) // 2,
                "end": length - num_samples,
            }[crop]
            out[i] = wave[start : start + num_samples]
        else:
            out[i, :length] = wave
    info = {
        "num_clips": len(waveforms),
        "num_cut": sum(n > num_samples for n in lengths),
        "num_padded": sum(n < num_samples for n in lengths),
        "num_samples": num_samples,
        "crop": crop,
        "longest": max(lengths, default=0),
        "shortest": min(lengths, default=0),
    }
    return out, info
