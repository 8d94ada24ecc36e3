"""From a user's files to a feature cache: read, check, load, extract.

The order matters for the user: every option and the preset are checked
before the data are read, and the data (classes, counts, skipped files) are
reported before the backbone runs.
"""

import os

from keras_daam.utils import check_choice

MODALITIES = ("text", "image", "audio")
TABLE_EXTENSIONS = (".csv", ".tsv", ".tab", ".txt")
LABEL_MODES = ("required", "optional", "none")


def detect_modality(path):
    """`"text"` for a table file, `"image"` / `"audio"` for a folder of
    such files (by their extensions).

    Raises:
        ValueError: no such path, or nothing recognisable in it.
    """
    from keras_daam.data import AUDIO_EXTENSIONS
    from keras_daam.data import IMAGE_EXTENSIONS

    if os.path.isfile(path):
        if path.lower().endswith(TABLE_EXTENSIONS):
            return "text"
        raise ValueError(
            f"Cannot tell what {path} holds: give a CSV/TSV file of texts "
            "(.csv, .tsv), or a folder of images or .wav files (one "
            "sub-folder per class), or pass --modality."
        )
    if not os.path.isdir(path):
        raise ValueError(f"No such file or folder: {path}")
    counts = {"image": 0, "audio": 0}
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            ext = os.path.splitext(name)[1].lower()
            if ext in IMAGE_EXTENSIONS:
                counts["image"] += 1
            elif ext in AUDIO_EXTENSIONS:
                counts["audio"] += 1
        if sum(counts.values()) >= 200:
            break
    if not any(counts.values()):
        raise ValueError(
            f"Found no image or .wav file under {path}. Put the files of "
            "each class in their own sub-folder (data/cat/1.png, "
            "data/dog/2.png, ...), or pass --modality."
        )
    return max(counts, key=counts.get)


def read_data(
    path,
    modality="auto",
    labels="optional",
    text_column="text",
    label_column="label",
    encoding=None,
    header=True,
):
    """Reads a user's data (`keras_daam.data` readers) into a `Dataset`.

    Args:
        path: str. A CSV/TSV file, or a folder of images / audio files
            (labelled: one sub-folder per class).
        modality: `"auto"`, `"text"`, `"image"` or `"audio"`.
        labels: `"required"`, `"optional"` (use labels when present) or
            `"none"` (ignore them: data to predict on). For folders,
            `"none"` reads every file below `path` without classes.
        text_column, label_column, encoding, header: for tables, see
            `keras_daam.data.read_text_table`.

    Returns:
        A `keras_daam.data.Dataset`.

    Raises:
        ValueError: unreadable or empty data (the message says why).
    """
    from keras_daam import data as readers

    check_choice("labels", labels, LABEL_MODES)
    path = os.path.abspath(os.path.expanduser(path))
    if modality == "auto":
        modality = detect_modality(path)
    check_choice("modality", modality, MODALITIES)
    if modality == "text":
        if not os.path.isfile(path):
            raise ValueError(f"No such file: {path} (a CSV/TSV of texts).")
        dataset = readers.read_text_table(
            path,
            text_column=text_column,
            label_column=label_column if labels != "none" else None,
            labels=labels,
            encoding=encoding,
            header=header,
        )
    else:
        if not os.path.isdir(path):
            raise ValueError(
                f"No such folder: {path} (a folder of {modality} files)."
            )
        reader = (
            readers.read_image_folder
            if modality == "image"
            else readers.read_audio_folder
        )
        dataset = reader(path, labelled=labels != "none")
        if labels == "required" and not dataset.labelled:
            raise ValueError(f"{path} has no class sub-folders.")
    if len(dataset) == 0:
        why = "; ".join(f"{w}: {r}" for w, r in dataset.skipped[:3])
        raise ValueError(
            f"No usable example in {path}"
            + (f" ({len(dataset.skipped)} skipped: {why} ...)" if why else ".")
        )
    if dataset.labelled:
        names = dataset.class_names()
        if len(names) < 2:
            raise ValueError(
                f"{path} has a single class ({names[0]!r}); a classifier "
                "needs at least two."
            )
    return dataset


def parse_layers(spec):
    """The extractor's `layers` and `mixed_widths` for a `--layers` value.

    `"all"`, `"last"`, `"uniform"` (a CNN's longest equal-width run of
    blocks), `"pad"` (every block, zero-padded to the widest), or block
    indices `"0,2,-1"` (0-based, negative from the end).

    Raises:
        ValueError: an unreadable value (the message names it).
    """
    spec = str(spec).strip()
    if spec in ("all", "last", "uniform"):
        return {"layers": spec, "mixed_widths": "error"}
    if spec == "pad":
        return {"layers": "all", "mixed_widths": "pad"}
    try:
        indices = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        indices = []
    if not indices:
        raise ValueError(
            "`--layers` must be all, last, uniform, pad or comma-separated "
            f"block indices (e.g. 0,2,-1). Received: {spec!r}"
        )
    return {"layers": indices, "mixed_widths": "error"}


def load_extractor(preset, layers="all", include_embeddings=False):
    """Resolves `preset` and builds its frozen `LayerwiseFeatureExtractor`.

    Args:
        preset: a packaged short name (`minilm`, `efficientnet_lite0`,
            `whisper_tiny_en`), a local preset folder or a KerasHub preset.
        layers: a `--layers` value (see `parse_layers`) or the extractor's
            own `layers` argument.
        include_embeddings: bool. Prepend the embedding output.

    Returns:
        `(extractor, resolved)`: the extractor and the
        `keras_daam.backbones.ResolvedPreset`.

    Raises:
        ValueError: an unknown preset or unusable layer selection (the
            message names the preset or the option).
    """
    from keras_daam.backbones import LayerwiseFeatureExtractor
    from keras_daam.backbones import resolve_preset

    resolved = resolve_preset(preset)
    options = (
        parse_layers(layers)
        if isinstance(layers, str)
        else {"layers": layers, "mixed_widths": "error"}
    )
    try:
        import keras_hub

        backbone = keras_hub.models.Backbone.from_preset(resolved.location)
    except (ValueError, FileNotFoundError, OSError, KeyError) as error:
        raise ValueError(f"Cannot load preset {preset!r}: {error}") from None
    extractor = LayerwiseFeatureExtractor(
        backbone,
        include_embeddings=include_embeddings,
        preset=resolved.location,
        **options,
    )
    return extractor, resolved


def use_data_parallel():
    """Splits every extraction batch over all local devices (JAX).

    Raises:
        ValueError: on another backend (`keras.distribution` is JAX's).
    """
    import keras

    if keras.backend.backend() != "jax":
        raise ValueError(
            "--data-parallel needs the JAX backend (KERAS_BACKEND=jax); "
            f"this run uses {keras.backend.backend()}."
        )
    import jax

    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=jax.local_devices())
    )


def check_modality(extractor, dataset, preset):
    """Raises a ValueError when the data do not suit the backbone."""
    if dataset.modality != extractor.modality:
        raise ValueError(
            f"The preset {preset!r} is a {extractor.modality} backbone "
            f"({extractor.family}) but {dataset.source} holds "
            f"{dataset.modality} data."
        )


def image_notes(dataset, image_size):
    """Sentences about what decoding will change: modes and sizes."""
    infos = [dataset.info(i) for i in range(len(dataset))]
    modes = {}
    for info in infos:
        mode = info.get("mode")
        if mode and mode != "RGB":
            modes[mode] = modes.get(mode, 0) + 1
    notes = [
        f"{n} image(s) of mode {mode} will be converted to RGB"
        + (" (alpha composited on black)" if "A" in mode else "")
        for mode, n in sorted(modes.items())
    ]
    resized = sum(
        (info.get("width"), info.get("height")) != (image_size, image_size)
        for info in infos
    )
    if resized:
        notes.append(
            f"{resized} of {len(infos)} images will be resized to "
            f"{image_size}x{image_size} (aspect ratio not kept)"
        )
    return notes


def audio_length_notes(dataset, seconds, crop):
    """Sentences about clips longer or shorter than `seconds`."""
    durations = [dataset.info(i).get("duration") for i in range(len(dataset))]
    durations = [d for d in durations if d is not None]
    longer = sum(d > seconds + 1e-9 for d in durations)
    shorter = sum(d < seconds - 1e-9 for d in durations)
    notes = []
    if longer:
        notes.append(
            f"{longer} of {len(durations)} clips are longer than "
            f"{seconds:g} s and will be cut (--crop {crop}; the longest is "
            f"{max(durations):.2f} s)"
        )
    if shorter:
        notes.append(
            f"{shorter} of {len(durations)} clips are shorter than "
            f"{seconds:g} s and will be padded with silence"
        )
    return notes


def extract_dataset(
    extractor,
    dataset,
    output,
    preprocessor,
    class_names=None,
    batch_size=None,
    overwrite=False,
    verbose=True,
    shard=None,
):
    """Extracts `dataset` into the cache folder `output`.

    The cache records the dataset's source, skipped items and notes in its
    description; the class names (numeric order for numeric labels) in its
    settings.

    Returns:
        The `keras_daam.features.FeatureCache`.
    """
    from keras_daam.features import extract_to_cache

    description = {
        "source": dataset.source,
        "modality": dataset.modality,
        "skipped": [list(s) for s in dataset.skipped],
        "notes": list(dataset.notes),
    }
    return extract_to_cache(
        extractor,
        dataset,
        output,
        batch_size=batch_size,
        preprocessor=preprocessor,
        class_names=class_names,
        overwrite=overwrite,
        verbose=verbose,
        description=description,
        shard=shard,
    )


def extract_files(
    preset,
    data,
    output,
    layers="all",
    include_embeddings=False,
    modality="auto",
    labels="optional",
    text_column="text",
    label_column="label",
    encoding=None,
    header=True,
    sequence_length=None,
    image_size=None,
    audio_seconds=None,
    crop="start",
    batch_size=None,
    overwrite=False,
    shard=None,
    data_parallel=False,
    log=None,
):
    """`keras-daam extract`: a user's files to a feature cache, in order.

    Options and the preset are checked first (the backbone's limits
    included), then the data are read and reported (classes and counts,
    skipped files, what decoding changes), then the backbone runs.

    Args:
        preset, layers, include_embeddings: see `load_extractor`.
        data, modality, labels, text_column, label_column, encoding,
            header: see `read_data`. With `header=False`, digit column
            names are positions.
        output: str. The cache folder.
        sequence_length, image_size, audio_seconds, crop: preprocessing
            (see `keras_daam.features.make_preprocessor`).
        batch_size, overwrite, shard: see
            `keras_daam.features.extract_to_cache` (`shard` also as
            `"INDEX/COUNT"`).
        data_parallel: bool. Split batches over all local devices (JAX).
        log: callable for report lines, or None.

    Returns:
        `(cache, dataset)`: the `FeatureCache` and the `Dataset` read.
    """
    from keras_daam.features import make_preprocessor
    from keras_daam.features.shards import check_shard
    from keras_daam.features.shards import parse_shard

    log = log or (lambda message: None)
    if isinstance(layers, str):
        parse_layers(layers)  # a bad value fails before anything loads
    if isinstance(shard, str):
        shard = parse_shard(shard)
    elif shard is not None:
        shard = check_shard(shard)
    if data_parallel:
        use_data_parallel()
    log(f"loading {preset}")
    extractor, resolved = load_extractor(preset, layers, include_embeddings)
    preprocessor = make_preprocessor(
        extractor,
        resolved.location,
        sequence_length=sequence_length,
        image_size=image_size,
        audio_seconds=audio_seconds,
        crop=crop,
    )
    if not header:
        text_column, label_column = (
            int(c) if isinstance(c, str) and c.isdigit() else c
            for c in (text_column, label_column)
        )
    dataset = read_data(
        data,
        modality=extractor.modality if modality == "auto" else modality,
        labels=labels,
        text_column=text_column,
        label_column=label_column,
        encoding=encoding,
        header=header,
    )
    check_modality(extractor, dataset, preset)
    log(dataset.summary())
    notes = list(dataset.notes)
    if dataset.modality == "audio":
        notes += audio_length_notes(
            dataset, preprocessor.audio_seconds, preprocessor.crop
        )
    elif dataset.modality == "image":
        notes += image_notes(dataset, preprocessor.image_size)
    for note in notes:
        log(f"note: {note}")
    for where, why in dataset.skipped:
        log(f"skipped {where}: {why}")
    log(
        f"extracting {len(dataset)} examples from {extractor.family} layers "
        f"{extractor.layer_names}"
    )
    cache = extract_dataset(
        extractor,
        dataset,
        output,
        preprocessor,
        batch_size=batch_size,
        overwrite=overwrite,
        shard=shard,
    )
    for note in preprocessor.describe_notes():
        log(f"note: {note}")
    return cache, dataset
