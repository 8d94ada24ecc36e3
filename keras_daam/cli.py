"""The `keras-daam` command line: arguments, then calls into the package.

    keras-daam demo                  the main job, offline (MiniLM, WordNet)
    keras-daam extract --preset P --data D --output CACHE
    keras-daam train --cache CACHE --output RUN
    keras-daam predict --model RUN/heads/NAME --data D --output OUT.csv
    keras-daam explain --cache CACHE --model RUN/heads/NAME --output DIR
    keras-daam heads                 the head names `--heads` accepts

Every user error is one `keras-daam: error: ...` line on stderr and exit
status 2; Ctrl-C is one line and status 130 (an interrupted extraction
resumes when the same command runs again). TensorFlow/absl start-up lines
are hidden unless `--verbose`. The work itself is `keras_daam.pipeline`
and `keras_daam.experiments`.
"""

import argparse
import os
import sys
import warnings

PRESET_HELP = (
    "a packaged short name (minilm: text, BERT 6 x 384; efficientnet_lite0: "
    "images; whisper_tiny_en: audio), a local preset folder, or a KerasHub "
    "preset name (downloads; needs internet)"
)
DEFAULT_TRAIN_HEADS = (
    "daam_h1_flatten,none_flatten,mha_flatten,weighted_sum_linear,"
    "linear_last_layer"
)
# What a user can get wrong is reported as one line; a bug raises anything
# else and keeps its traceback.
USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    NotADirectoryError,
    IsADirectoryError,
    ImportError,
)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"keras-daam: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.HelpFormatter):
    """Adds `(default: X)` to every option with a default worth showing."""

    def _get_help_string(self, action):
        text = action.help or ""
        shown = action.nargs != 0 and action.default not in (
            None,
            argparse.SUPPRESS,
        )
        if shown and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _checked(convert, ok, what):
    def parse(text):
        try:
            values = [convert(v) for v in text.split(",") if v.strip()]
        except ValueError:
            values = []
        if not values or not all(ok(v) for v in values):
            raise argparse.ArgumentTypeError(
                f"must be {what}; received {text!r}"
            )
        return values if "comma" in what else values[0]

    return parse


POSITIVE = _checked(int, lambda v: v >= 1, "a positive integer")
NON_NEGATIVE = _checked(int, lambda v: v >= 0, "an integer >= 0")
SECONDS = _checked(float, lambda v: 0 < v < float("inf"), "a positive number")
FRACTION = _checked(float, lambda v: 0 <= v < 1, "a fraction in [0, 1)")
RATES = _checked(
    float, lambda v: 0 < v < float("inf"), "comma-separated positive numbers"
)


def _workers(text):
    return text if text == "auto" else POSITIVE(text)


def _heads(text):
    from keras_daam.heads import is_head_name

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if not is_head_name(n)]
    if not names or unknown or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"needs distinct known head names; received {text!r}"
            + (
                f" (unknown: {', '.join(map(repr, unknown))})"
                if unknown
                else ""
            )
            + "; `keras-daam heads` lists them"
        )
    return names


def _opt(flags, help, type=None, default=None, **kwargs):
    """An option: `(flags, argparse keywords)`; `type=bool` is a flag.

    Each option's `dest` is the name of the pipeline function's argument,
    so a command passes them on as they are.
    """
    if type is bool:
        kwargs.setdefault("action", "store_true")
        if default is not None:
            kwargs["default"] = default
        return flags, dict(help=help, **kwargs)
    return flags, dict(type=type, default=default, help=help, **kwargs)


OPTIONS = {
    "verbose": _opt(
        "--verbose", "show the backends' start-up logs and tracebacks", bool
    ),
    "overwrite": _opt(
        "--overwrite",
        "replace what an earlier run of this command wrote in --output",
        bool,
    ),
    "preset": _opt("--preset", PRESET_HELP, required=True),
    "data": _opt(
        "--data",
        "a CSV/TSV of texts, or a folder of images or .wav files (one "
        "sub-folder per class)",
        required=True,
    ),
    "cache": _opt(
        "--cache", "a feature cache from `keras-daam extract`", required=True
    ),
    "model": _opt(
        "--model", "a trained head folder (OUTPUT/heads/NAME)", required=True
    ),
    "cache_output": _opt(
        "--output",
        "the cache folder (new, empty, or a keras-daam cache)",
        required=True,
    ),
    "run_output": _opt(
        "--output",
        "the run folder (new, empty, or an earlier run with --overwrite)",
        required=True,
    ),
    "csv_output": _opt("--output", "the predictions CSV", required=True),
    "explain_output": _opt(
        "--output", "folder for the figures and explanation.json", required=True
    ),
    "layers": _opt(
        "--layers",
        "all, last, uniform (a CNN's equal-width blocks), pad (every block, "
        "zero-padded to the widest), or block indices like 0,2,-1",
        default="all",
    ),
    "include_embeddings": _opt(
        "--include-embeddings",
        "also the embedding output (the paper excludes it)",
        bool,
    ),
    "sequence_length": _opt(
        "--sequence-length",
        "text: tokens per text (default: the backbone's maximum, at most "
        "512; each batch is padded only to its longest text)",
        POSITIVE,
    ),
    "image_size": _opt(
        "--image-size",
        "images: side in pixels (default: the preset's, else 224)",
        POSITIVE,
    ),
    "audio_seconds": _opt(
        "--audio-seconds",
        "audio: clips are cut or padded to this",
        SECONDS,
        1.0,
    ),
    "crop": _opt(
        "--crop",
        "audio: which part of a longer clip to keep",
        default="start",
        choices=("start", "center", "end"),
    ),
    "batch_size": _opt(
        "--batch-size", "batch size (default: chosen for throughput)", POSITIVE
    ),
    "shard": _opt(
        "--shard",
        "INDEX/COUNT: extract only this slice (a process or host per "
        "shard); the same command without --shard then checks and "
        "assembles the finished shards",
    ),
    "data_parallel": _opt(
        "--data-parallel", "JAX: split every batch over all local devices", bool
    ),
    "modality": _opt(
        "--modality",
        "what --data holds: text, image, audio, or auto (from the file or "
        "folder)",
        default="auto",
        choices=("auto", "text", "image", "audio"),
    ),
    "text_column": _opt(
        "--text-column",
        "CSV/TSV column of the texts: a header name, or a 0-based position "
        "with --no-header",
        default="text",
    ),
    "label_column": _opt(
        "--label-column", "CSV/TSV column of the labels", default="label"
    ),
    "labels": _opt(
        "--no-labels",
        "read the data without labels (to predict)",
        bool,
        dest="labels",
        action="store_const",
        const="none",
        default="optional",
    ),
    "encoding": _opt(
        "--encoding",
        "text encoding of the CSV/TSV (default: UTF-8; another encoding is "
        "an error that suggests one)",
    ),
    "header": _opt(
        "--no-header",
        "the CSV/TSV has no header row (columns by position)",
        bool,
        dest="header",
        action="store_false",
    ),
    "heads": _opt(
        "--heads",
        "comma-separated head names; the first is compared with the others "
        "(`keras-daam heads` lists them)",
        _heads,
        DEFAULT_TRAIN_HEADS,
    ),
    "test_cache": _opt(
        "--test-cache",
        "a cache of test data, its labels matched by class name (default: "
        "a test split of --cache)",
    ),
    "seeds": _opt("--seeds", "seeds per head", POSITIVE, 1),
    "learning_rates": _opt(
        "--learning-rates",
        "the grid chosen from on validation",
        RATES,
        "1e-3,1e-4",
    ),
    "epochs": _opt("--epochs", "max epochs (early stopping)", POSITIVE, 30),
    "patience": _opt("--patience", "early-stopping patience", POSITIVE, 5),
    "train_batch": _opt("--batch-size", "training batch size", POSITIVE, 64),
    "val_fraction": _opt(
        "--val-fraction", "validation share of --cache", FRACTION, 0.1
    ),
    "test_fraction": _opt(
        "--test-fraction",
        "test share of --cache (no --test-cache)",
        FRACTION,
        0.2,
    ),
    "split_seed": _opt("--split-seed", "seed of the split", NON_NEGATIVE, 0),
    "workers": _opt(
        "--workers",
        "heads trained at once, each in its own process: a number, or auto "
        "(one per CPU core, 1 with a GPU); the results do not depend on it. "
        "Helps only where one head's training leaves cores idle",
        _workers,
        1,
    ),
    "k": _opt("--k", "how many top and bottom layers to name", POSITIVE, 2),
    "max_examples": _opt(
        "--max-examples", "use only the first N examples", POSITIVE
    ),
    # The demo's own (see keras_daam.experiments.demo.run_demo).
    "demo_output": _opt("--output", "report folder", default="keras_daam_demo"),
    "num_train": _opt(
        "--num-train", "training texts (default: 8000; --quick: 600)", POSITIVE
    ),
    "num_val": _opt(
        "--num-val", "validation texts (default: 2000; --quick: 200)", POSITIVE
    ),
    "num_test": _opt(
        "--num-test", "test texts (default: 8000; --quick: 400)", POSITIVE
    ),
    "quick": _opt("--quick", "small sizes, 5 heads", bool),
    "demo_heads": _opt(
        "--heads", "comma-separated head names (default: the demo's)", _heads
    ),
    "max_epochs": _opt(
        "--epochs",
        "max epochs (default: 30; --quick: 20)",
        POSITIVE,
        dest="max_epochs",
    ),
    "extract_batch_size": _opt(
        "--batch-size",
        "extraction batch size (default: chosen for throughput)",
        POSITIVE,
        dest="extract_batch_size",
    ),
    "train_batch_size": _opt(
        "--batch-size-train",
        "training batch size",
        POSITIVE,
        64,
        dest="train_batch_size",
    ),
    "cache_dir": _opt("--cache-dir", "feature caches (default: OUTPUT/cache)"),
    "plots": _opt(
        "--no-plots",
        "skip the IF figures",
        bool,
        dest="plots",
        action="store_false",
    ),
}
# command -> (summary, the OPTIONS it takes, the function it calls).
COMMANDS = {
    "demo": (
        "frozen MiniLM on WordNet supersenses, every head, offline",
        "demo_output seeds num_train num_val num_test split_seed quick "
        "demo_heads max_epochs patience extract_batch_size train_batch_size "
        "workers cache_dir plots verbose",
        "keras_daam.experiments.demo:run_demo",
    ),
    "extract": (
        "cache the layer-wise features of your data (a cache made from other "
        "data or settings is refused; an interrupted one resumes)",
        "preset data cache_output layers include_embeddings sequence_length "
        "image_size audio_seconds crop batch_size shard data_parallel "
        "modality text_column label_column labels encoding header overwrite "
        "verbose",
        "keras_daam.pipeline:extract_files",
    ),
    "train": (
        "train and compare heads on a cache: learning rate and epochs chosen "
        "on validation, test touched once; each head is saved under "
        "OUTPUT/heads/NAME as soon as it is trained",
        "cache test_cache run_output heads seeds learning_rates epochs "
        "patience train_batch val_fraction test_fraction split_seed workers "
        "overwrite verbose",
        "keras_daam.pipeline:train_on_cache",
    ),
    "predict": (
        "classify raw files with a trained head (loading the backbone and "
        "preprocessing it records): one CSV row per input, every class's "
        "probability",
        "model data csv_output batch_size text_column label_column encoding "
        "header overwrite verbose",
        "keras_daam.pipeline:predict_to_csv",
    ),
    "explain": (
        "Importance Factor of a trained DAAM head over a cache",
        "cache model explain_output k max_examples overwrite verbose",
        "keras_daam.pipeline:explain_cache",
    ),
    "heads": ("list the head names --heads accepts", "verbose", None),
}


def build_parser():
    parser = _Parser(
        prog="keras-daam",
        description="Density Adaptive Attention heads on frozen KerasHub "
        "backbones: extract features from your files, train and compare "
        "heads, predict, explain.",
    )
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser
    )
    for command, (summary, names, _) in COMMANDS.items():
        p = sub.add_parser(
            command, help=summary, description=summary, formatter_class=_Help
        )
        for name in names.split():
            flags, kwargs = OPTIONS[name]
            p.add_argument(flags, **kwargs)
    return parser


def _log(message):
    print(f"keras-daam: {message}", file=sys.stderr, flush=True)


def _call(command, args):
    """Calls the command's package function with the parsed options."""
    import importlib

    module, _, name = COMMANDS[command][2].partition(":")
    kwargs = {
        k: v for k, v in vars(args).items() if k not in ("command", "verbose")
    }
    return getattr(importlib.import_module(module), name)(**kwargs, log=_log)


def show_heads(args):
    from keras_daam.heads import describe_heads
    from keras_daam.heads.registry import family_patterns

    print(describe_heads())
    print("\nfamilies (N heads, K densities: any positive integers):")
    print("\n".join(f"  {p}" for p in family_patterns()))


def show_result(command, result, args):
    """Prints what a command produced (its progress went to stderr)."""
    if command == "demo":
        print(result["text"])
    elif command == "extract":
        cache, dataset = result
        classes = cache.class_names
        print(
            f"cached features {tuple(cache.features.shape)} "
            + (f"of {len(classes)} classes " if classes else "(unlabelled) ")
            + f"in {cache.cache_dir}"
            + (f" ({len(dataset.skipped)} skipped)" if dataset.skipped else "")
        )
    elif command == "train":
        tables = (result["table"], result["comparison_table"])
        print("\n\n".join(t for t in tables if t))
        print(f"\nheads in {args.output}/heads; report {args.output}/report.md")
    elif command == "predict":
        line = f"predicted {result['count']} examples -> {result['output']}"
        if result["accuracy"] is not None:
            unknown = result["unknown_labels"]
            line += f" (accuracy {100 * result['accuracy']:.1f}%" + (
                f"; {unknown} labels not among the head's classes)"
                if unknown
                else ")"
            )
        print(line)
    elif command == "explain":
        shares = ", ".join(
            f"{v:.1f}" for v in result["layer_contribution_percent"]
        )
        print(f"layer contribution %: {shares}")
        top = result["top_k_layers"]
        print(f"top-{len(top)} layers: {top}")
        print(f"figures: {', '.join(result['figures'])}")


def main(argv=None):
    """Entry point of `keras-daam` (and `python -m keras_daam`)."""
    args = build_parser().parse_args(argv)
    shown = warnings.showwarning
    try:
        # Inside the `try`: the start-up imports take seconds, and a Ctrl-C
        # then gets the same one-line message as one later.
        if args.verbose:
            os.environ["KERAS_DAAM_VERBOSE"] = "1"  # for worker processes too
        else:
            from keras_daam.utils.quiet import import_quietly

            import_quietly()
            warnings.showwarning = lambda message, *_, **__: _log(
                "warning: " + " ".join(str(message).split())
            )
        if args.command == "heads":
            show_heads(args)
        else:
            show_result(args.command, _call(args.command, args), args)
        return 0
    except KeyboardInterrupt:
        _log(
            "interrupted. An interrupted extraction resumes where it stopped "
            "when you run the same command again."
        )
        return 130
    except USER_ERRORS as error:
        if args.verbose:
            raise
        _log("error: " + (" ".join(str(error).split()) or type(error).__name__))
        return 2
    finally:
        warnings.showwarning = shown
