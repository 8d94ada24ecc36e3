"""Synthetic spoken digits (espeak-ng and flite voices), split by voice.

The audio here is synthetic: text-to-speech engines speaking the English
words "zero" ... "nine". No labelled speech corpus ships in any package
reachable offline, so the paper's speech-emotion task on IEMOCAP cannot be
reproduced with this data; it only exercises the audio pipeline (log-mel
features, Whisper layer taps, DAAM heads) on a real, if easy, task whose
test voices were never heard in training.
"""

import json
import os
import pathlib
import shutil
import subprocess
import tempfile

import numpy as np

from keras_daam.data import fix_length
from keras_daam.data import read_audio
from keras_daam.data import split_indices
from keras_daam.utils import check_int

SAMPLE_RATE = 16000
DIGIT_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
# espeak-ng voice variants (see `espeak-ng --voices=variant`).
ESPEAK_VARIANTS = ("m1", "m3", "m5", "m7", "f1", "f2", "f3", "f4", "croak")
ESPEAK_BASES = ("en", "en-us")
FLITE_VOICES = ("kal16", "awb", "rms", "slt")


def default_voices():
    """The default voice list: 18 espeak-ng variants and 4 flite voices.

    Each voice is a dict with `engine` ("espeak-ng" or "flite"), `voice`
    and, for espeak-ng, `speed` (words per minute) and `pitch` (0-99),
    varied across voices.
    """
    voices = []
    for b, base in enumerate(ESPEAK_BASES):
        for v, variant in enumerate(ESPEAK_VARIANTS):
            voices.append(
                {
                    "engine": "espeak-ng",
                    "voice": f"{base}+{variant}",
                    "speed": 130 + 20 * ((v + b) % 4),
                    "pitch": 30 + 10 * ((2 * v + b) % 5),
                }
            )
    for voice in FLITE_VOICES:
        voices.append({"engine": "flite", "voice": voice})
    return voices


def voice_id(voice):
    """A short, file-system-safe name for a voice dict."""
    name = f"{voice['engine']}_{voice['voice']}".replace("+", "-")
    if voice["engine"] == "espeak-ng":
        name += f"_s{voice.get('speed', 175)}_p{voice.get('pitch', 50)}"
    return name


def _require(program, package):
    if shutil.which(program) is None:
        raise FileNotFoundError(
            f"`{program}` not found. On Debian/Ubuntu install it with "
            f"`apt-get install {package}`."
        )


def _speak(voice, text, wav_path):
    if voice["engine"] == "espeak-ng":
        _require("espeak-ng", "espeak-ng")
        cmd = ["espeak-ng", "-v", voice["voice"], "-w", str(wav_path)]
        cmd += ["-s", str(voice.get("speed", 175))]
        cmd += ["-p", str(voice.get("pitch", 50)), text]
    elif voice["engine"] == "flite":
        _require("flite", "flite")
        cmd = ["flite", "-voice", voice["voice"], "-t", text, "-o"]
        cmd += [str(wav_path)]
    else:
        raise ValueError(
            "`engine` must be 'espeak-ng' or 'flite'. "
            f"Received: {voice['engine']!r}"
        )
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0 or not os.path.getsize(wav_path):
        raise RuntimeError(
            f"{' '.join(cmd)} failed: {result.stderr.strip()[:300]}"
        )


def synthesize_spoken_digits(output_dir, voices=None, digits=range(10)):
    """Speaks the digit words with TTS voices and caches 16 kHz WAV files.

    Writes `output_dir/<voice_id>/<digit>.wav` (16-bit mono, 16 kHz) and
    `output_dir/manifest.json`. Files that already exist are reused, so a
    second call is cheap. The audio is synthetic (espeak-ng / flite), not
    recorded speech.

    Args:
        output_dir: str or path. Cache folder.
        voices: list of voice dicts (see `default_voices()`), or `None` for
            the default 22 voices. Unavailable flite voices are an error.
        digits: iterable of ints in [0, 9]. Defaults to all ten.

    Returns:
        The list of manifest entries: dicts with `path`, `label`, `voice`.
    """
    from scipy.io import wavfile

    output_dir = pathlib.Path(output_dir).expanduser()
    voices = default_voices() if voices is None else list(voices)
    digits = list(digits)
    for d in digits:
        if not 0 <= int(d) <= 9:
            raise ValueError(f"Digits must be in [0, 9]. Received: {d}")
    entries = []
    for voice in voices:
        vid = voice_id(voice)
        folder = output_dir / vid
        folder.mkdir(parents=True, exist_ok=True)
        for d in digits:
            target = folder / f"{int(d)}.wav"
            if not target.exists():
                with tempfile.TemporaryDirectory() as tmp:
                    raw = pathlib.Path(tmp) / "raw.wav"
                    _speak(voice, DIGIT_WORDS[int(d)], raw)
                    # espeak-ng writes 22,050 Hz (resampled by 320/441).
                    wave, _ = read_audio(raw, SAMPLE_RATE)
                pcm = np.clip(wave * 32767.0, -32768, 32767).astype("int16")
                partial = folder / f".{int(d)}.tmp.wav"
                wavfile.write(partial, SAMPLE_RATE, pcm)
                os.replace(partial, target)
            entries.append(
                {
                    "path": str(target.relative_to(output_dir)),
                    "label": int(d),
                    "voice": vid,
                }
            )
    with open(output_dir / "manifest.json", "w") as f:
        json.dump(entries, f, indent=1)
    return entries


def load_spoken_digits(
    num_test_voices=4,
    num_val_voices=0,
    seed=0,
    cache_dir=None,
    voices=None,
    length=SAMPLE_RATE,
):
    """Loads synthetic spoken digits, split by voice.

    Synthesises (or reuses) the WAVs with `synthesize_spoken_digits`, then
    assigns whole voices to the test, validation and training sets with a
    seeded shuffle, so test voices are never heard in training. The audio is
    synthetic TTS; the paper's IEMOCAP emotion task cannot be reproduced
    offline.

    Args:
        num_test_voices: int. Voices held out for testing. Defaults to `4`.
        num_val_voices: int. Voices held out for validation. Defaults to `0`.
        seed: int. Seed of the voice split. Defaults to `0`.
        cache_dir: str or path. WAV cache; defaults to
            `$KERAS_DAAM_CACHE/spoken_digits` or
            `~/.cache/keras_daam/spoken_digits`.
        voices: voice dicts, or `None` for `default_voices()`.
        length: int >= 1. Samples per waveform (zero-padded or cut at the
            end, `keras_daam.data.fix_length` with `crop="start"`).
            Defaults to 16000 (1 s).

    Returns:
        `((x_train, y_train, v_train), (x_val, y_val, v_val),
        (x_test, y_test, v_test)), class_names` with waveforms float32
        `[N, length]` at 16 kHz, int64 labels in [0, 10) and voice ids
        (str arrays).
    """
    num_test_voices = check_int("num_test_voices", num_test_voices, 0)
    num_val_voices = check_int("num_val_voices", num_val_voices, 0)
    length = check_int("length", length, 1)
    if cache_dir is None:
        root = os.environ.get("KERAS_DAAM_CACHE", "~/.cache/keras_daam")
        cache_dir = pathlib.Path(root).expanduser() / "spoken_digits"
    cache_dir = pathlib.Path(cache_dir).expanduser()
    voices = default_voices() if voices is None else list(voices)
    num_train_voices = len(voices) - num_test_voices - num_val_voices
    if num_train_voices < 1:
        raise ValueError(
            f"{len(voices)} voices cannot give {num_test_voices} test and "
            f"{num_val_voices} validation voices and leave one for training."
        )
    entries = synthesize_spoken_digits(cache_dir, voices)
    ids = [voice_id(v) for v in voices]
    test, val, train = split_indices(
        len(ids),
        (num_test_voices, num_val_voices, num_train_voices),
        seed,
        "voices",
    )

    def gather(voice_indices):
        chosen = {ids[i] for i in voice_indices}
        rows = [e for e in entries if e["voice"] in chosen]
        waves = [
            read_audio(cache_dir / e["path"], SAMPLE_RATE)[0] for e in rows
        ]
        x, _ = fix_length(waves, length)
        y = np.asarray([e["label"] for e in rows], dtype="int64")
        v = np.asarray([e["voice"] for e in rows], dtype=str)
        return x, y, v

    return (gather(train), gather(val), gather(test)), list(DIGIT_WORDS)
