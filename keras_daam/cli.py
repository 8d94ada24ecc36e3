"""The `keras-daam` command line: arguments, then calls into the package.

    keras-daam demo                      the main job, offline (MiniLM, WordNet)
    keras-daam extract --preset P --data D --output CACHE
    keras-daam train --cache CACHE --output RUN
    keras-daam predict --model RUN/heads/NAME --data D --output OUT.csv
    keras-daam explain --cache CACHE --model RUN/heads/NAME --output DIR
    keras-daam heads                     the head names `--heads` accepts

Every user error is one `keras-daam: error: ...` line on stderr and exit
status 2; Ctrl-C is one line and status 130 (an interrupted extraction
resumes when the same command runs again). TensorFlow/absl start-up lines
are hidden unless `--verbose`.
"""

import argparse
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


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line and exit status 2."""

    def error(self, message):
        self.exit(2, f"keras-daam: error: {message} (see {self.prog} --help)\n")


def _type(check, what):
    def parse(text):
        try:
            return check(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be {what}; received {text!r}"
            ) from None

    return parse


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError
    return value


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError
    return value


def _fraction(text):
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise ValueError
    return value


def _learning_rates(text):
    rates = [_positive_float(v) for v in text.split(",") if v.strip()]
    if not rates:
        raise ValueError
    return rates


def _heads(text):
    from keras_daam.heads import get_head_spec

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("needs at least one head name")
    for name in names:
        try:
            get_head_spec(name)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"unknown head {name!r}; `keras-daam heads` lists the names"
            ) from None
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a head is named twice: {text!r}")
    return names


POSITIVE = _type(_positive_int, "a positive integer")
NON_NEGATIVE = _type(_non_negative_int, "an integer >= 0")
SECONDS = _type(_positive_float, "a positive number of seconds")
FRACTION = _type(_fraction, "a fraction in [0, 1)")
RATES = _type(_learning_rates, "comma-separated positive numbers (1e-3,1e-4)")


def _add_data_options(p, labels=True):
    g = p.add_argument_group("reading the data")
    g.add_argument(
        "--modality",
        default="auto",
        choices=("auto", "text", "image", "audio"),
        help="what --data holds (default: auto, from the file/folder)",
    )
    g.add_argument(
        "--text-column",
        default="text",
        help="CSV/TSV column of the texts: a header name, or a 0-based "
        "position with --no-header (default: %(default)s)",
    )
    if labels:
        g.add_argument(
            "--label-column",
            default="label",
            help="CSV/TSV column of the labels (default: %(default)s)",
        )
        g.add_argument(
            "--no-labels",
            action="store_true",
            help="read the data without labels (a cache to predict from)",
        )
    g.add_argument(
        "--encoding",
        default=None,
        help="text encoding of the CSV/TSV (default: UTF-8; a file in "
        "another encoding is an error that suggests one)",
    )
    g.add_argument(
        "--no-header",
        action="store_true",
        help="the CSV/TSV has no header row (columns by position)",
    )


def _add_common(p):
    p.add_argument(
        "--verbose",
        action="store_true",
        help="show the backends' start-up logs and full tracebacks",
    )


def build_parser():
    parser = _Parser(
        prog="keras-daam",
        description="Density Adaptive Attention heads on frozen KerasHub "
        "backbones: extract features from your files, train and compare "
        "heads, predict, explain.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser
    )
    fmt = argparse.ArgumentDefaultsHelpFormatter

    demo = sub.add_parser(
        "demo",
        formatter_class=fmt,
        help="frozen MiniLM on WordNet supersenses, every head, offline",
    )
    demo.add_argument(
        "--output", default="keras_daam_demo", help="report folder"
    )
    demo.add_argument(
        "--seeds", type=POSITIVE, default=1, help="seeds per head"
    )
    for name, what in (("train", 8000), ("val", 2000), ("test", 8000)):
        demo.add_argument(
            f"--num-{name}",
            type=POSITIVE,
            default=None,
            help=f"{name} examples (default: {what}; --quick: fewer)",
        )
    demo.add_argument(
        "--split-seed", type=NON_NEGATIVE, default=0, help="seed of the split"
    )
    demo.add_argument(
        "--quick", action="store_true", help="small sizes, 5 heads"
    )
    demo.add_argument(
        "--heads",
        type=_heads,
        default=None,
        help="comma-separated head names (default: the demo's 10)",
    )
    demo.add_argument(
        "--epochs",
        type=POSITIVE,
        default=None,
        help="max epochs (default: 30; --quick 20)",
    )
    demo.add_argument(
        "--patience", type=POSITIVE, default=5, help="early-stopping patience"
    )
    demo.add_argument(
        "--batch-size",
        type=POSITIVE,
        default=None,
        help="extraction batch size (default: chosen for throughput)",
    )
    demo.add_argument(
        "--batch-size-train",
        type=POSITIVE,
        default=64,
        help="training batch size",
    )
    demo.add_argument(
        "--cache-dir",
        default=None,
        help="feature caches (default: OUTPUT/cache)",
    )
    demo.add_argument(
        "--no-plots", action="store_true", help="skip the IF figures"
    )
    _add_common(demo)

    ext = sub.add_parser(
        "extract",
        formatter_class=fmt,
        help="cache the layer-wise features of your data",
        description="Layer-wise features of a CSV of texts, or a folder of "
        "images or .wav files (one sub-folder per class), from a frozen "
        "backbone, into a feature cache. A cache made from other data or "
        "settings is refused (--overwrite rebuilds it); an interrupted one "
        "resumes.",
    )
    ext.add_argument("--preset", required=True, help=PRESET_HELP)
    ext.add_argument("--data", required=True, help="CSV/TSV file or folder")
    ext.add_argument(
        "--output",
        required=True,
        help="the cache folder (new, empty, or a keras-daam cache)",
    )
    ext.add_argument(
        "--layers",
        default="all",
        help="all, last, uniform (a CNN's equal-width blocks), pad (every "
        "block, zero-padded to the widest), or indices like 0,2,-1",
    )
    ext.add_argument(
        "--include-embeddings",
        action="store_true",
        help="also the embedding output (the paper excludes it)",
    )
    ext.add_argument(
        "--sequence-length",
        type=POSITIVE,
        default=None,
        help="text: tokens per text (default: the backbone's maximum, at "
        "most 512; each batch is padded only to its longest text)",
    )
    ext.add_argument(
        "--image-size",
        type=POSITIVE,
        default=None,
        help="images: side in pixels (default: the preset's, else 224)",
    )
    ext.add_argument(
        "--audio-seconds",
        type=SECONDS,
        default=1.0,
        help="audio: every clip is cut or padded to this length",
    )
    ext.add_argument(
        "--crop",
        default="start",
        choices=("start", "center", "end"),
        help="audio: which part of a longer clip to keep",
    )
    ext.add_argument(
        "--batch-size",
        type=POSITIVE,
        default=None,
        help="extraction batch size (default: chosen for throughput)",
    )
    ext.add_argument(
        "--overwrite",
        action="store_true",
        help="rebuild a cache made from other data or settings",
    )
    ext.add_argument(
        "--shard",
        default=None,
        help="INDEX/COUNT: extract only this slice of the data (one "
        "process or host per shard); the same command without --shard "
        "then checks and assembles the finished shards",
    )
    ext.add_argument(
        "--data-parallel",
        action="store_true",
        help="JAX: split every batch over all local devices "
        "(keras.distribution.DataParallel)",
    )
    _add_data_options(ext)
    _add_common(ext)

    tr = sub.add_parser(
        "train",
        formatter_class=fmt,
        help="train and compare heads on a cache",
        description="Trains every head with the same protocol (learning "
        "rate and epochs chosen on a validation split, test touched once), "
        "saves each head under OUTPUT/heads/NAME as soon as it is trained, "
        "and compares the first head with the others (paired bootstrap, "
        "McNemar).",
    )
    tr.add_argument("--cache", required=True, help="a labelled feature cache")
    tr.add_argument(
        "--test-cache",
        default=None,
        help="a cache of test data (labels matched by class name); "
        "default: a test split of --cache",
    )
    tr.add_argument(
        "--output",
        required=True,
        help="the run folder (new, empty, or an earlier run with --overwrite)",
    )
    tr.add_argument(
        "--heads",
        type=_heads,
        default=DEFAULT_TRAIN_HEADS,
        help="comma-separated head names; the first is compared with the "
        "others (`keras-daam heads` lists them)",
    )
    tr.add_argument("--seeds", type=POSITIVE, default=1, help="seeds per head")
    tr.add_argument(
        "--learning-rates",
        type=RATES,
        default="1e-3,1e-4",
        help="the grid selected on validation",
    )
    tr.add_argument(
        "--epochs",
        type=POSITIVE,
        default=30,
        help="max epochs (early stopping on validation)",
    )
    tr.add_argument(
        "--patience", type=POSITIVE, default=5, help="early-stopping patience"
    )
    tr.add_argument(
        "--batch-size", type=POSITIVE, default=64, help="training batch size"
    )
    tr.add_argument(
        "--val-fraction",
        type=FRACTION,
        default=0.1,
        help="validation share of --cache",
    )
    tr.add_argument(
        "--test-fraction",
        type=FRACTION,
        default=0.2,
        help="test share of --cache (ignored with --test-cache)",
    )
    tr.add_argument(
        "--split-seed", type=NON_NEGATIVE, default=0, help="seed of the split"
    )
    tr.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run in --output",
    )
    _add_common(tr)

    pr = sub.add_parser(
        "predict",
        formatter_class=fmt,
        help="classify raw files with a trained head",
        description="Loads the head (and the backbone and preprocessing it "
        "records), classifies a CSV of texts or a folder of images/audio "
        "(flat, or one sub-folder per class to score it), and writes one "
        "CSV row per input: the predicted class and every probability.",
    )
    pr.add_argument(
        "--model",
        required=True,
        help="a head folder (train's OUTPUT/heads/NAME)",
    )
    pr.add_argument("--data", required=True, help="CSV/TSV file or folder")
    pr.add_argument("--output", required=True, help="the predictions CSV")
    pr.add_argument(
        "--batch-size",
        type=POSITIVE,
        default=None,
        help="batch size (default: chosen for throughput)",
    )
    pr.add_argument(
        "--overwrite", action="store_true", help="replace an existing --output"
    )
    _add_data_options(pr, labels=False)
    pr.add_argument("--label-column", default="label", help=argparse.SUPPRESS)
    _add_common(pr)

    ex = sub.add_parser(
        "explain",
        formatter_class=fmt,
        help="Importance Factor of a trained DAAM head",
    )
    ex.add_argument(
        "--cache",
        required=True,
        help="features to average the DAAM gate over (validation data)",
    )
    ex.add_argument(
        "--model",
        required=True,
        help="a DAAM head folder (train's OUTPUT/heads/NAME)",
    )
    ex.add_argument(
        "--output",
        required=True,
        help="folder for the figures and explanation.json",
    )
    ex.add_argument(
        "--k",
        type=POSITIVE,
        default=2,
        help="how many top/bottom layers to name",
    )
    ex.add_argument(
        "--max-examples",
        type=POSITIVE,
        default=None,
        help="use only the first N examples",
    )
    ex.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier explanation in --output",
    )
    _add_common(ex)

    hd = sub.add_parser("heads", help="list the head names --heads accepts")
    _add_common(hd)
    return parser


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _one_line_warnings():
    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        _log(f"keras-daam: warning: {text}")

    warnings.showwarning = show


def cmd_heads(args):
    from keras_daam.heads import describe_heads
    from keras_daam.heads.registry import family_patterns

    print(describe_heads())
    print("\nfamilies (N heads, K densities: any positive integers):")
    print("\n".join(f"  {p}" for p in family_patterns()))
    return 0


def cmd_demo(args):
    from keras_daam.experiments import demo

    report = demo.run_demo(
        output=args.output,
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        split_seed=args.split_seed,
        seeds=args.seeds,
        heads=args.heads,
        quick=args.quick,
        max_epochs=args.epochs,
        patience=args.patience,
        extract_batch_size=args.batch_size,
        train_batch_size=args.batch_size_train,
        cache_dir=args.cache_dir,
        plots=not args.no_plots,
        log=_log,
    )
    print(report["text"])
    return 0


def cmd_extract(args):
    from keras_daam.features import make_preprocessor
    from keras_daam.features.shards import parse_shard
    from keras_daam.pipeline import extract as pipeline

    pipeline.parse_layers(args.layers)  # checked before anything loads
    shard = parse_shard(args.shard) if args.shard else None
    if args.data_parallel:
        pipeline.use_data_parallel()
    _log(f"keras-daam: loading {args.preset}")
    extractor, resolved = pipeline.load_extractor(
        args.preset, args.layers, args.include_embeddings
    )
    preprocessor = make_preprocessor(
        extractor,
        resolved.location,
        sequence_length=args.sequence_length,
        image_size=args.image_size,
        audio_seconds=args.audio_seconds,
        crop=args.crop,
    )
    dataset = pipeline.read_data(
        args.data,
        modality=args.modality
        if args.modality != "auto"
        else extractor.modality,
        labels="none" if args.no_labels else "optional",
        text_column=args.text_column,
        label_column=args.label_column,
        encoding=args.encoding,
        header=not args.no_header,
    )
    pipeline.check_modality(extractor, dataset, args.preset)
    _log(f"keras-daam: {dataset.summary()}")
    for note in dataset.notes:
        _log(f"keras-daam: note: {note}")
    for where, why in dataset.skipped:
        _log(f"keras-daam: skipped {where}: {why}")
    if dataset.modality == "audio":
        notes = pipeline.audio_length_notes(
            dataset, args.audio_seconds, args.crop
        )
    elif dataset.modality == "image":
        notes = pipeline.image_notes(dataset, preprocessor.image_size)
    else:
        notes = []
    for note in notes:
        _log(f"keras-daam: note: {note}")
    _log(
        f"keras-daam: extracting {len(dataset)} examples with "
        f"{extractor.family} layers {extractor.layer_names}"
    )
    cache = pipeline.extract_dataset(
        extractor,
        dataset,
        args.output,
        preprocessor,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        shard=shard,
    )
    for note in preprocessor.describe_notes():
        _log(f"keras-daam: note: {note}")
    classes = cache.class_names
    print(
        f"cached features {tuple(cache.features.shape)} "
        + (f"of {len(classes)} classes " if classes else "(unlabelled) ")
        + f"in {args.output}"
        + (f" ({len(dataset.skipped)} skipped)" if dataset.skipped else "")
    )
    return 0


def cmd_train(args):
    from keras_daam.pipeline import train_on_cache

    report = train_on_cache(
        args.cache,
        args.output,
        args.heads,
        test_cache=args.test_cache,
        val_fraction=args.val_fraction,
        test_fraction=args.test_fraction,
        split_seed=args.split_seed,
        seeds=args.seeds,
        learning_rates=args.learning_rates,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        log=lambda m: _log(f"keras-daam: {m}"),
    )
    print(report["table"])
    if report["comparison_table"]:
        print()
        print(report["comparison_table"])
    print(
        f"\nheads saved in {args.output}/heads; report: {args.output}/report.md"
    )
    return 0


def cmd_predict(args):
    from keras_daam.pipeline import predict_to_csv

    result = predict_to_csv(
        args.model,
        args.data,
        args.output,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        text_column=args.text_column,
        label_column=args.label_column,
        encoding=args.encoding,
        header=not args.no_header,
        log=lambda m: _log(f"keras-daam: {m}"),
    )
    line = f"predicted {result['count']} examples -> {result['output']}"
    if result["accuracy"] is not None:
        line += f" (accuracy {100 * result['accuracy']:.1f}%"
        if result["unknown_labels"]:
            line += (
                f"; {result['unknown_labels']} labels not among the head's "
                "classes"
            )
        line += ")"
    print(line)
    return 0


def cmd_explain(args):
    from keras_daam.pipeline import explain_cache

    info = explain_cache(
        args.cache,
        args.model,
        args.output,
        k=args.k,
        max_examples=args.max_examples,
        overwrite=args.overwrite,
    )
    print(
        "layer contribution %: "
        + ", ".join(f"{v:.1f}" for v in info["layer_contribution_percent"])
    )
    print(f"top-{len(info['top_k_layers'])} layers: {info['top_k_layers']}")
    print(f"figures: {', '.join(info['figures'])}")
    return 0


COMMANDS = {
    "demo": cmd_demo,
    "extract": cmd_extract,
    "train": cmd_train,
    "predict": cmd_predict,
    "explain": cmd_explain,
    "heads": cmd_heads,
}
# What a user can get wrong: these are reported as one line, not a
# traceback (a bug raises something else, and keeps its traceback).
USER_ERRORS = (
    ValueError,
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    NotADirectoryError,
    IsADirectoryError,
    ImportError,
)


def main(argv=None):
    """Entry point of `keras-daam` (and `python -m keras_daam`)."""
    args = build_parser().parse_args(argv)
    shown = warnings.showwarning
    if not args.verbose:
        from keras_daam.utils.quiet import import_quietly

        import_quietly()
        _one_line_warnings()
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        _log(
            "keras-daam: interrupted. An interrupted extraction resumes "
            "where it stopped when you run the same command again."
        )
        return 130
    except USER_ERRORS as error:
        if args.verbose:
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        _log(f"keras-daam: error: {message}")
        return 2
    finally:
        warnings.showwarning = shown
