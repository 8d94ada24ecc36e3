"""Tables and reports of trained heads: Markdown, JSON."""

import json
import os

import numpy as np

from keras_daam.evaluation.statistics import compare
from keras_daam.evaluation.statistics import format_mean_std
from keras_daam.evaluation.statistics import summarize
from keras_daam.heads import get_head_spec
from keras_daam.heads import is_head_name

# Per-run entries that are arrays or objects, not results.
_NOT_JSON = ("model", "test_predictions", "history")


def row_label(name, labels=None):
    """The table label of a result row.

    `labels[name]` when given; else a registered head's label followed by
    its name (`"DAAM 2 heads over layers + flatten decoder
    (`daam_h2_flatten`)"`), so that every row says what `build_head(NAME,
    ...)` builds; else the name itself.

    Example:

    >>> from keras_daam import evaluation
    >>> evaluation.row_label("lora_r4", {"lora_r4": "LoRA rank 4"})
    'LoRA rank 4'
    """
    if labels and name in labels:
        return labels[name]
    if is_head_name(name):
        return f"{get_head_spec(name).label} (`{name}`)"
    return name


def results_table(results, headline=None, labels=None):
    """A Markdown table of mean +- std test accuracy and costs per head.

    Args:
        results: `{name: [per-seed result dict, ...]}` (`train_heads`).
        headline: optional name whose row is set in bold.
        labels: optional `{name: label}` for rows that are not registered
            heads (e.g. LoRA), or to relabel one.

    Returns:
        str, the table: head, test acc. %, val acc. %, trainable params,
        train time (s), selected learning rates, best epoch per seed.

    Example:

    >>> from keras_daam import evaluation
    >>> run = {"test_accuracy": 0.75, "val_accuracy": 0.7,
    ...        "train_time_s": 1.0, "trainable_params": 10,
    ...        "learning_rate": 1e-3, "epochs": 3}
    >>> print(evaluation.results_table({"x": [run]}).splitlines()[-1])
    | x | 75.0 | 70.0 | 10 | 1.0 | 0.001 | 3 |
    """
    lines = [
        "| head | test acc. % | val acc. % | trainable params | "
        "train time (s) | lr | epochs |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        s = summarize(runs)
        label = row_label(name, labels)
        if name == headline:
            label = f"**{label}**"
        lrs = ", ".join(sorted({f"{lr:g}" for lr in s["learning_rates"]}))
        lines.append(
            f"| {label} | "
            + format_mean_std(
                s["test_accuracy_mean"], s["test_accuracy_std"], s["seeds"]
            )
            + f" | {100 * s['val_accuracy_mean']:.1f} | "
            f"{s['trainable_params']:,} | {s['train_time_s_mean']:.1f} | "
            f"{lrs} | {', '.join(map(str, s['epochs']))} |"
        )
    return "\n".join(lines)


def comparisons(results, y_test, headline, baselines):
    """Paired comparisons of the headline head against each baseline.

    Args:
        results: `{name: [per-seed result dict, ...]}` with
            `test_predictions`.
        y_test: the test labels.
        headline: the name compared against the others (A).
        baselines: names to compare with (B); names missing from
            `results`, and the headline itself, are skipped.

    Returns:
        `{baseline: compare(y_test, results[headline], results[baseline])}`
        in the order of `baselines`; empty if the headline has no results.
    """
    out = {}
    if headline not in results:
        return out
    for name in baselines:
        if name in results and name != headline:
            out[name] = compare(y_test, results[headline], results[name])
    return out


def comparisons_table(comps, headline):
    """A Markdown table of `comparisons` (or of `compare` results).

    Rows are named after the baseline (`headline minus NAME`). A key of the
    form `"A_vs_B"` is a comparison of A with B instead, and its verdict
    reads "first better" / "second better".

    Args:
        comps: `{name: compare result}`.
        headline: the name of head A, for the header and the verdicts.

    Returns:
        str: per-seed difference (points), bootstrap 95% interval, McNemar
        p per seed, verdict.
    """
    lines = [
        f"| {headline} minus | per-seed diff (pts) | paired bootstrap 95% CI "
        "| McNemar p (per seed) | verdict |",
        "|---|---|---|---|---|",
    ]
    for name, c in comps.items():
        b = c["bootstrap"]
        verdict = {"A better": "first better", "B better": "second better"}
        verdict = verdict.get(c["verdict"], "tie")
        if "_vs_" not in name:
            verdict = verdict.replace("first", headline).replace("second", name)
        lines.append(
            f"| {name} | {100 * c['mean']:+.1f} +- {100 * c['std']:.1f} | "
            f"[{100 * b['ci_low']:+.1f}, {100 * b['ci_high']:+.1f}] | "
            + ", ".join(f"{p:.3g}" for p in c["mcnemar_p"])
            + f" | {verdict} |"
        )
    return "\n".join(lines)


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def jsonable(results):
    """Per-seed results without models, predictions and histories.

    Args:
        results: `{name: [per-seed result dict, ...]}`.

    Returns:
        The same structure with only JSON-serialisable values (NumPy
        arrays and scalars become lists and Python numbers).

    Example:

    >>> import numpy as np
    >>> from keras_daam import evaluation
    >>> evaluation.jsonable({"h": [{"val_accuracy": np.float32(0.5),
    ...                            "test_predictions": np.zeros(3)}]})
    {'h': [{'val_accuracy': 0.5}]}
    """
    return {
        name: [
            {k: _plain(v) for k, v in run.items() if k not in _NOT_JSON}
            for run in runs
        ]
        for name, runs in results.items()
    }


def write_report(output_dir, report, title, tables, name="report"):
    """Write `<name>.json` (the report) and `<name>.md` (title + tables).

    Args:
        output_dir: str. Created if needed.
        report: a JSON-serialisable dict (use `jsonable` for results);
            NumPy values are converted.
        title: str. The Markdown heading.
        tables: list of Markdown blocks (tables, captions, paragraphs),
            written in order with a blank line between them; empty ones
            are skipped.
        name: str. File stem. Defaults to `"report"`.

    Returns:
        The Markdown text written.
    """
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, f"{name}.json"), "w") as f:
        json.dump(_plain(report), f, indent=2, default=float)
    md = [f"# {title}", ""]
    for block in tables:
        if block:
            md += [block, ""]
    text = "\n".join(md)
    with open(os.path.join(output_dir, f"{name}.md"), "w") as f:
        f.write(text)
    return text
