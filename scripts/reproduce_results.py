"""Reproduce the DAAM comparison on packaged, offline data (docs/results.md).

Tasks (run one at a time; each writes `<output>/<task>.json` and `.md`):

- `text`: frozen MiniLM-L6 on WordNet noun supersense: every layer-axis
  head, the token-axis heads and the IF ablation.
- `lora`: LoRA (ranks 0 = frozen control, 4, 8) on the same task.
- `vision`: EfficientNet-Lite0 on Fashion-MNIST.
- `audio`: Whisper tiny.en on *synthetic* spoken digits, split by voice.

The work is `keras_daam.experiments.run_<task>`; this script only parses
arguments. Every head is trained with the evaluation protocol (learning
rate and epochs chosen on validation, test evaluated once), over `--seeds`
seeds.

Example:

    python scripts/reproduce_results.py text --seeds 3 \
        --num-train 4000 --num-val 1000 --num-test 2000
"""

import argparse
import os
import sys

from keras_daam import experiments


def _log(line):
    print(line, file=sys.stderr, flush=True)


def _parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = p.add_argument
    add("task", choices=("text", "lora", "vision", "audio"))
    add("--num-train", type=int, default=None, help="task default if unset")
    add("--num-val", type=int, default=None, help="task default if unset")
    add("--num-test", type=int, default=None, help="task default if unset")
    add("--split-seed", type=int, default=0)
    add("--seeds", type=int, default=3)
    add("--epochs", type=int, default=30, help="at most (early stopping)")
    add("--patience", type=int, default=None, help="5 (LoRA: 1)")
    add("--sequence-length", type=int, default=64)
    add("--image-size", type=int, default=112)
    add("--test-voices", type=int, default=8)
    add("--val-voices", type=int, default=4)
    add("--layer-set", default="uniform", help="uniform and/or pad")
    add("--lora-ranks", default="0,4,8")
    add("--audio-seconds", type=float, default=1.5)
    add("--extra-voices", action="store_true", help="58 voices, not 22")
    add("--no-standardize", action="store_true")
    add("--heads", default=None, help="comma-separated registry names")
    add(
        "--compare",
        default="",
        help="heads (of --heads) each paired with every other trained head",
    )
    add("--skip-tokens", action="store_true", help="text: no token heads")
    add("--token-heads", default=None, help="text: token heads, base first")
    add("--skip-ablation", action="store_true")
    add("--cache", default=os.path.expanduser("~/.cache/kdaam"))
    add("--output", default="results")
    return p


def _sizes(args):
    given = {
        "num_train": args.num_train,
        "num_val": args.num_val,
        "num_test": args.num_test,
    }
    return {k: v for k, v in given.items() if v is not None}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    common = {
        "output": args.output,
        "split_seed": args.split_seed,
        "seeds": args.seeds,
        "max_epochs": args.epochs,
        "command": " ".join(["scripts/reproduce_results.py", *argv]),
        "log": _log,
    }
    if args.patience is not None:
        common["patience"] = args.patience
    if args.task == "lora":
        report = experiments.run_lora(
            **common,
            **_sizes(args),
            sequence_length=args.sequence_length,
            ranks=args.lora_ranks,
        )
        print(report["text"])
        return 0
    common.update(
        heads=args.heads,
        compare=args.compare,
        ablation=not args.skip_ablation,
        cache_dir=args.cache,
    )
    if args.task == "text":
        report = experiments.run_text(
            **common,
            **_sizes(args),
            sequence_length=args.sequence_length,
            tokens=not args.skip_tokens,
            token_heads=args.token_heads,
        )
        print(report["text"])
    elif args.task == "vision":
        reports = experiments.run_vision(
            **common,
            **_sizes(args),
            image_size=args.image_size,
            layer_sets=args.layer_set,
        )
        print("\n\n".join(r["text"] for r in reports.values()))
    else:
        report = experiments.run_audio(
            **common,
            test_voices=args.test_voices,
            val_voices=args.val_voices,
            audio_seconds=args.audio_seconds,
            extra_voices=args.extra_voices,
            standardized=not args.no_standardize,
        )
        print(report["text"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"reproduce_results: error: {error}", file=sys.stderr)
        sys.exit(2)
