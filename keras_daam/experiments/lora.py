"""LoRA fine-tuning of MiniLM on WordNet supersense (docs/results.md, 4).

Keras `backbone.enable_lora(rank)` freezes the backbone and adds LoRA to
the query and value projections; the masked mean of the last layer feeds a
trainable Dense. Rank 0 is the control: the same model with the backbone
frozen, trained the same way. The backbone is fine-tuned, so there is no
feature cache: texts are tokenized once.
"""

from keras_daam.experiments import wordnet
from keras_daam.experiments.common import check_protocol
from keras_daam.experiments.common import machine_description
from keras_daam.experiments.common import quiet
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int


def lora_name(rank):
    """The result row name of a rank (`"lora_r4"`)."""
    return f"lora_r{int(rank)}"


def lora_label(rank):
    """The table label of a rank (these rows are not registered heads)."""
    if rank:
        return (
            f"LoRA rank {rank} (alpha = rank, query+value) + linear on the "
            "last layer's masked mean"
        )
    return (
        "Frozen backbone (rank 0 control) + linear on the last layer's "
        "masked mean"
    )


def lora_labels(ranks):
    """`{row name: label}` for `evaluation.results_table(labels=...)`."""
    return {lora_name(r): lora_label(r) for r in ranks}


def build_lora_classifier(preset, rank, num_classes):
    """MiniLM with LoRA of `rank` (0: frozen) + a linear classifier.

    Returns:
        An uncompiled `keras.Model` from the tokenizer's inputs to logits.
    """
    import keras
    import keras_hub

    from keras_daam.heads import TokenMeanPooling

    backbone = keras_hub.models.Backbone.from_preset(preset)
    if rank:
        backbone.enable_lora(rank)  # freezes the backbone
    else:
        backbone.trainable = False
    inputs = backbone.input
    h = backbone(inputs)["sequence_output"]
    pooled = TokenMeanPooling(name="pool")(
        h, padding_mask=inputs["padding_mask"]
    )
    logits = keras.layers.Dense(num_classes, name="classifier")(pooled)
    return keras.Model(inputs, logits)


def run_lora(
    output="results",
    num_train=4000,
    num_val=1000,
    num_test=2000,
    split_seed=0,
    seeds=3,
    max_epochs=30,
    patience=1,
    batch_size=32,
    learning_rates=(1e-3,),
    sequence_length=wordnet.SEQUENCE_LENGTH,
    ranks=(0, 4, 8),
    command=None,
    log=None,
):
    """LoRA ranks against the frozen control, with the protocol.

    Writes `<output>/lora.json` and `<output>/lora.md`.

    Args:
        output: str. Output folder. Defaults to `"results"`.
        num_train, num_val, num_test: int. WordNet split sizes.
        split_seed: int. Seed of the split. Defaults to 0.
        seeds: int. Training seeds per rank. Defaults to 3.
        max_epochs: int. Defaults to 30.
        patience: int. Early-stopping patience. Defaults to 1 (the
            backbone is expensive to train on CPU).
        batch_size: int. Defaults to 32.
        learning_rates: the grid. Defaults to `(1e-3,)`.
        sequence_length: int. Tokens per text. Defaults to 64.
        ranks: LoRA ranks (or a comma-separated str); 0 is the frozen
            control. Defaults to `(0, 4, 8)`.
        command: str, optional. The command line, recorded in the report.
        log: optional callable for progress lines.

    Returns:
        The report dict.
    """
    from keras_daam import evaluation
    from keras_daam.features.preprocessing import TextPreprocessor

    log = log or quiet
    for name, value in (
        ("num_train", num_train),
        ("num_val", num_val),
        ("num_test", num_test),
        ("sequence_length", sequence_length),
    ):
        check_positive_int(name, value)
    split_seed = check_int("split_seed", split_seed, minimum=0)
    seeds, max_epochs, patience, batch_size = check_protocol(
        seeds, max_epochs, patience, batch_size
    )
    learning_rates = evaluation.check_learning_rates(learning_rates)
    if isinstance(ranks, str):
        ranks = [r for r in ranks.split(",") if r.strip()]
    ranks = [check_int("ranks", int(r), minimum=0) for r in ranks]
    if not ranks:
        raise ValueError("`ranks` is empty: give at least one LoRA rank.")
    splits, class_names = wordnet.load_splits(
        num_train, num_val, num_test, split_seed
    )
    preset = wordnet.minilm_location()
    tokenizer = TextPreprocessor(preset, sequence_length=sequence_length)
    parts = [
        (tokenizer.tokenize(list(x)), y)
        for x, y in (splits[s] for s in ("train", "val", "test"))
    ]
    results = {}
    for rank in ranks:
        runs = []
        for seed in range(seeds):
            run = evaluation.fit_and_select(
                lambda seed, rank=rank: build_lora_classifier(
                    preset, rank, len(class_names)
                ),
                *parts,
                learning_rates=learning_rates,
                max_epochs=max_epochs,
                patience=patience,
                batch_size=batch_size,
                seed=seed,
            )
            run.pop("model")
            runs.append(run)
            log(
                f"  {lora_name(rank)} seed {seed}: test "
                f"{100 * run['test_accuracy']:.1f}"
            )
        results[lora_name(rank)] = runs
    y_test = parts[2][1]
    control = lora_name(0)
    comps = {}
    for rank in ranks:
        if rank and control in results:
            comps[f"{lora_name(rank)}_vs_{control}"] = evaluation.compare(
                y_test, results[lora_name(rank)], results[control]
            )
    report = {
        "task": "lora",
        "machine": machine_description(),
        "command": command,
        "sizes": [num_train, num_val, num_test],
        "sequence_length": sequence_length,
        "seeds": seeds,
        "results": evaluation.jsonable(results),
        "summary": {k: evaluation.summarize(v) for k, v in results.items()},
        "comparisons": comps,
    }
    blocks = [
        f"`{command}` on {report['machine']}" if command else "",
        evaluation.results_table(results, labels=lora_labels(ranks)),
        evaluation.comparisons_table(comps, "lora") if comps else "",
    ]
    evaluation.write_report(output, report, "lora", blocks, "lora")
    report["text"] = "\n\n".join(b for b in blocks if b)
    return report
