"""From a trained head and raw files to a CSV of predictions."""

import csv
import os

import numpy as np

from keras_daam.pipeline.extract import detect_modality
from keras_daam.pipeline.extract import read_data


def _has_class_folders(path):
    return os.path.isdir(path) and any(
        os.path.isdir(os.path.join(path, d)) and not d.startswith(".")
        for d in os.listdir(path)
    )


def _top_level_files(path):
    return any(
        os.path.isfile(os.path.join(path, f)) and not f.startswith(".")
        for f in os.listdir(path)
    )


def check_output_file(path, overwrite):
    """Refuses to replace an existing file unless `overwrite`."""
    if os.path.isdir(path):
        raise ValueError(f"--output {path} is a folder; give a .csv file name.")
    if os.path.exists(path) and not overwrite:
        raise ValueError(
            f"{path} exists. Choose another --output, or pass --overwrite to "
            "replace it."
        )
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"The folder of --output {path} does not exist.")


def predict_to_csv(
    model,
    data,
    output,
    batch_size=None,
    overwrite=False,
    text_column="text",
    label_column="label",
    encoding=None,
    header=True,
    log=None,
):
    """Predicts the classes of raw files with a saved head; writes a CSV.

    The head folder (`keras-daam train` output `heads/<name>`, or
    `DensityAdaptiveClassifier.save_head`) names its preset, layers,
    preprocessing and classes; the backbone is loaded from that preset and
    the inputs are preprocessed exactly as for training.

    Args:
        model: str. A saved head folder.
        data: str. A CSV/TSV of texts (labels optional), or a folder of
            images / audio files: flat (unlabelled) or one sub-folder per
            class (the labels are then compared with the predictions).
        output: str. The CSV to write: one row per input with `item`
            (the text, or the file's path relative to `data`),
            `predicted` (class name), `probability` (of that class), and
            one `p(<class>)` column per class; `label` when known.
        batch_size: int, optional.
        overwrite: bool. Replace an existing `output`.
        text_column, label_column, encoding, header: for tables.
        log: callable for progress lines, or None.

    Returns:
        A dict: `count`, `class_names`, `output`, and `accuracy` (None for
        unlabelled data) with `unknown_labels` (labels not among the
        head's classes; not counted in the accuracy).
    """
    from keras_daam.models import load_head
    from keras_daam.models import read_head_config

    log = log or (lambda message: None)
    check_output_file(output, overwrite)
    read_head_config(model)  # a clear error before loading a backbone
    model_dir, model = model, load_head(model)
    modality = model.extractor.modality
    data = os.path.abspath(os.path.expanduser(data))
    if os.path.isdir(data):
        labelled = _has_class_folders(data) and not _top_level_files(data)
        labels = "optional" if labelled else "none"
    else:
        labels = "optional"
    if detect_modality(data) != modality:
        raise ValueError(
            f"The head {model_dir} classifies {modality} but {data} holds "
            f"{detect_modality(data)} data."
        )
    dataset = read_data(
        data,
        modality=modality,
        labels=labels,
        text_column=text_column,
        label_column=label_column,
        encoding=encoding,
        header=header,
    )
    log(dataset.summary())
    for where, why in dataset.skipped:
        log(f"skipped {where}: {why}")
    probabilities = np.asarray(
        model.predict_proba(dataset.items, batch_size=batch_size), "float32"
    )
    names = list(model.class_names)
    predicted = probabilities.argmax(axis=1)
    if modality == "text":
        shown = list(dataset.items)
    else:
        shown = [os.path.relpath(p, data) for p in dataset.items]
    columns = ["item", "predicted", "probability"] + [f"p({n})" for n in names]
    if dataset.labelled:
        columns.insert(1, "label")
    tmp = output + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for i, item in enumerate(shown):
            row = [item]
            if dataset.labelled:
                row.append(dataset.labels[i])
            row += [
                names[predicted[i]],
                f"{probabilities[i, predicted[i]]:.6f}",
            ]
            row += [f"{p:.6f}" for p in probabilities[i]]
            writer.writerow(row)
    os.replace(tmp, output)
    result = {
        "count": len(shown),
        "class_names": names,
        "output": output,
        "accuracy": None,
        "unknown_labels": 0,
    }
    if dataset.labelled:
        index = {n: i for i, n in enumerate(names)}
        known = [i for i, lab in enumerate(dataset.labels) if lab in index]
        result["unknown_labels"] = len(shown) - len(known)
        if known:
            truth = np.array([index[dataset.labels[i]] for i in known])
            result["accuracy"] = float(np.mean(predicted[known] == truth))
    return result
