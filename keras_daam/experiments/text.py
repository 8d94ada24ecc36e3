"""Text: frozen MiniLM-L6 on WordNet noun supersense (docs/results.md, 1).

The 6 pooled layers feed every layer-axis head; the last layer's token
states (an unpooled cache of that layer, with its padding mask) feed the
token-axis heads: DAAM along the tokens as attention pooling, against
plain masked mean pooling. The IF ablation retrains DAAM on the top and
the bottom IF layers (`keras_daam.explain.importance_ablation`).
"""

import time

from keras_daam import evaluation
from keras_daam.evaluation import DEFAULT_LEARNING_RATES
from keras_daam.evaluation import check_learning_rates
from keras_daam.experiments import wordnet
from keras_daam.experiments.common import LAYER_HEADS
from keras_daam.experiments.common import as_head_list
from keras_daam.experiments.common import check_compare
from keras_daam.experiments.common import check_protocol
from keras_daam.experiments.common import layer_heads_report
from keras_daam.experiments.common import quiet
from keras_daam.utils import check_int
from keras_daam.utils import check_positive_int

# Heads over the last layer's tokens [T, d] with the padding mask; the
# first is the baseline the others are compared with.
TOKEN_HEADS = (
    "tokens_mean_linear",
    "tokens_daam_h1_pool",
    "tokens_daam_mixture_h1_k4_sum",
)


def run_text(
    output="results",
    num_train=4000,
    num_val=1000,
    num_test=2000,
    split_seed=0,
    seeds=3,
    max_epochs=30,
    patience=5,
    batch_size=64,
    learning_rates=DEFAULT_LEARNING_RATES,
    sequence_length=wordnet.SEQUENCE_LENGTH,
    heads=None,
    compare=(),
    tokens=True,
    token_heads=None,
    ablation=True,
    cache_dir="cache",
    extract_batch_size=64,
    command=None,
    log=None,
):
    """Layer heads, token heads and the IF ablation on WordNet supersense.

    Writes `<output>/text.json` and `<output>/text.md`.

    Args:
        output: str. Output folder. Defaults to `"results"`.
        num_train, num_val, num_test: int. Split sizes. Default to
            4,000 / 1,000 / 2,000.
        split_seed: int. Seed of the WordNet split. Defaults to 0.
        seeds: int. Training seeds per head. Defaults to 3.
        max_epochs, patience, batch_size: the protocol (30, 5, 64).
        learning_rates: the protocol's grid. Defaults to `(1e-3, 1e-4)`.
        sequence_length: int. Tokens per text. Defaults to 64.
        heads: list of layer-head names (or a comma-separated str).
            Defaults to `LAYER_HEADS`.
        tokens: bool. Also train `TOKEN_HEADS` on the last layer's tokens.
        token_heads: token-axis head names (or a comma-separated str)
            trained with `tokens`; the first is the base the others are
            compared with. Defaults to `TOKEN_HEADS`.
            Defaults to `True`.
        compare: head names (or a comma-separated str), each also
            compared with every other trained head. Defaults to none.
        ablation: bool. Run the IF ablation. Defaults to `True`.
        cache_dir: str. Feature cache root. Defaults to `"cache"`.
        extract_batch_size: int. Backbone batch size. Defaults to 64.
        command: str, optional. The command line, recorded in the report.
        log: optional callable for progress lines.

    Returns:
        The report dict.
    """
    log = log or quiet
    for name, value in (
        ("num_train", num_train),
        ("num_val", num_val),
        ("num_test", num_test),
        ("sequence_length", sequence_length),
        ("extract_batch_size", extract_batch_size),
    ):
        check_positive_int(name, value)
    split_seed = check_int("split_seed", split_seed, minimum=0)
    seeds, max_epochs, patience, batch_size = check_protocol(
        seeds, max_epochs, patience, batch_size
    )
    learning_rates = check_learning_rates(learning_rates)
    explicit = heads is not None
    heads = as_head_list(heads, LAYER_HEADS)
    compare = check_compare(compare, heads)
    evaluation.check_heads(heads, *wordnet.MINILM_SHAPE, tokens=False)
    token_heads = as_head_list(token_heads, TOKEN_HEADS)
    if tokens:
        evaluation.check_heads(
            token_heads, sequence_length, wordnet.MINILM_SHAPE[1], tokens=True
        )
    splits, class_names = wordnet.load_splits(
        num_train, num_val, num_test, split_seed
    )
    key = wordnet.cache_key(
        num_train, num_val, num_test, split_seed, sequence_length
    )
    minilm = wordnet.MiniLM(sequence_length, log=log)
    arrays, extract_s = wordnet.wordnet_features(
        splits, cache_dir, key, minilm, extract_batch_size, log=log
    )
    parts = [arrays[s] for s in ("train", "val", "test")]
    report, results, blocks = layer_heads_report(
        "text",
        parts,
        len(class_names),
        heads,
        explicit,
        seeds,
        max_epochs,
        patience,
        batch_size,
        ablation=False,
        log=log,
        also_compare=compare,
        learning_rates=learning_rates,
    )
    headline = report["headline"]
    y_test = parts[2][1]
    if tokens:
        token_arrays, token_s = wordnet.wordnet_features(
            splits,
            cache_dir,
            key,
            minilm,
            extract_batch_size,
            tokens=True,
            log=log,
        )
        extract_s += token_s
        token_results = evaluation.train_heads(
            token_heads,
            *[token_arrays[s] for s in ("train", "val", "test")],
            num_classes=len(class_names),
            seeds=seeds,
            learning_rates=learning_rates,
            max_epochs=max_epochs,
            patience=patience,
            batch_size=batch_size,
            log=log,
        )
        del token_arrays
        results.update(token_results)
        base = token_heads[0]
        if headline is not None:
            for name in token_heads:
                # The headline (layer axis) against every token head too:
                # the same test examples.
                report["comparisons"][name] = evaluation.compare(
                    y_test, results[headline], results[name]
                )
        for name in token_heads[1:]:
            report["comparisons"][f"{name}_vs_{base}"] = evaluation.compare(
                y_test, results[name], results[base]
            )
        report["heads"] = list(results)
        report["results"] = evaluation.jsonable(results)
        report["summary"] = {
            k: evaluation.summarize(v) for k, v in results.items()
        }
        blocks[0] = evaluation.results_table(results, headline=headline)
        blocks[1] = evaluation.comparisons_table(
            report["comparisons"], headline or base
        )
    if ablation:
        from keras_daam.experiments.ablation import ablation_sentence
        from keras_daam.experiments.ablation import if_ablation

        t0 = time.perf_counter()
        report["if_ablation"] = if_ablation(
            *parts,
            num_classes=len(class_names),
            seeds=seeds,
            learning_rates=learning_rates,
            max_epochs=max_epochs,
            patience=patience,
            batch_size=batch_size,
            log=log,
        )
        report["if_ablation_time_s"] = time.perf_counter() - t0
        blocks.append(ablation_sentence(report["if_ablation"]))
    report.update(
        {
            "command": command,
            "split_seed": split_seed,
            "sequence_length": sequence_length,
            "extract_time_s": extract_s,
        }
    )
    header = f"`{command}` on {report['machine']}" if command else ""
    evaluation.write_report(output, report, "text", [header, *blocks], "text")
    report["text"] = "\n\n".join(b for b in [header, *blocks] if b)
    return report
