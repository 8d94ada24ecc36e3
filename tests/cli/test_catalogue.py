"""The user's-data catalogue: every case a new user hit, through `main`.

Each test drives `keras_daam.cli.main` the way the console script does and
asserts the exact outcome: the right result, or exit status 2 with one
`keras-daam: error:` line that names the problem and the value.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.cli.conftest import listing
from tests.cli.conftest import read_json
from tests.cli.conftest import write_csv

ROWS = [
    ("red cat", "pets"),
    ("green dog", "pets"),
    ("blue fish", "pets"),
    ("sun moon", "sky"),
    ("moon sun sun", "sky"),
    ("sun", "sky"),
]


def extract(run, preset, data, out, *extra):
    return run(
        "extract", "--preset", preset, "--data", data, "--output", out, *extra
    )


# ------------------------------------------------ stale or mixed caches
def test_a_changed_middle_row_is_never_reused(run, tiny_bert_preset, tmp_path):
    rows = [(f"red cat {'sun ' * i}", "a" if i % 2 else "b") for i in range(12)]
    data = write_csv(tmp_path / "d.csv", rows)
    out = tmp_path / "c"
    assert extract(run, tiny_bert_preset, data, out).code == 0
    again = extract(run, tiny_bert_preset, data, out)
    assert again.code == 0 and "Reusing the finished cache" in again.out
    rows[6] = ("blue fish", rows[6][1])
    write_csv(tmp_path / "d.csv", rows)
    extract(run, tiny_bert_preset, data, out).assert_user_error(
        "data differ", "--overwrite"
    )
    rebuilt = extract(run, tiny_bert_preset, data, out, "--overwrite")
    assert rebuilt.code == 0 and "Reusing" not in rebuilt.out


def test_another_sequence_length_is_refused(
    run, tiny_bert_preset, tiny_csv, tmp_path
):
    out = tmp_path / "c"
    assert (
        extract(
            run, tiny_bert_preset, tiny_csv, out, "--sequence-length", "24"
        ).code
        == 0
    )
    extract(
        run, tiny_bert_preset, tiny_csv, out, "--sequence-length", "8"
    ).assert_user_error("sequence_length: cached 24, now 8", "--overwrite")


def test_interrupted_cache_resumes_only_with_its_own_settings(
    run, tiny_bert_preset, tiny_csv, tmp_path, monkeypatch
):
    from keras_daam.backbones import LayerwiseFeatureExtractor

    original = LayerwiseFeatureExtractor.predict_on_batch
    calls = {"n": 0}

    def interrupted(self, x):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, x)

    monkeypatch.setattr(
        LayerwiseFeatureExtractor, "predict_on_batch", interrupted
    )
    out = tmp_path / "c"
    args = ("--sequence-length", "24", "--batch-size", "16")
    result = extract(run, tiny_bert_preset, tiny_csv, out, *args)
    assert result.code == 130 and "Traceback" not in result.err
    assert "interrupted" in result.err and "resumes" in result.err
    monkeypatch.setattr(LayerwiseFeatureExtractor, "predict_on_batch", original)
    # Another length cannot finish it (that would mix two lengths) ...
    extract(
        run,
        tiny_bert_preset,
        tiny_csv,
        out,
        "--sequence-length",
        "8",
        "--batch-size",
        "16",
    ).assert_user_error("sequence_length")
    # ... the same command resumes it.
    resumed = extract(run, tiny_bert_preset, tiny_csv, out, *args)
    assert resumed.code == 0 and "Resuming extraction at 12/60" in resumed.out


def test_a_second_writer_fails_with_a_clear_message(
    run, tiny_bert_preset, tiny_csv, tmp_path
):
    out = tmp_path / "c"
    out.mkdir()
    holder = textwrap.dedent(
        f"""
        import sys, filelock
        lock = filelock.FileLock({str(out / ".lock")!r}, timeout=0)
        lock.acquire()
        print("locked", flush=True)
        sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "locked"
        extract(run, tiny_bert_preset, tiny_csv, out).assert_user_error(
            "Another process is writing", str(out)
        )
    finally:
        proc.communicate("\n", timeout=30)


def test_extract_never_touches_a_users_files(
    run, tiny_bert_preset, tiny_csv, tmp_path
):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "labels.json").write_text("my labels")
    np.save(mine / "labels.npy", np.arange(3))
    extract(run, tiny_bert_preset, tiny_csv, mine).assert_user_error(
        "did not write", "labels.json"
    )
    assert (mine / "labels.json").read_text() == "my labels"
    assert listing(mine) == ["labels.json", "labels.npy"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "metadata.json").write_text('{"tool": "someone else"}')
    extract(
        run, tiny_bert_preset, tiny_csv, other, "--overwrite"
    ).assert_user_error("did not write")
    assert (other / "metadata.json").read_text() == '{"tool": "someone else"}'


# Argument handling, not the backend's maths: once (run_tests.py).
@pytest.mark.backend_independent
def test_ctrl_c_during_start_up_is_one_line(run, monkeypatch, tmp_path):
    from keras_daam.utils import quiet

    def interrupted():
        raise KeyboardInterrupt

    # The quiet start-up imports take seconds: a user may press Ctrl-C then.
    monkeypatch.setattr(quiet, "import_quietly", interrupted)
    result = run("train", "--cache", tmp_path, "--output", tmp_path / "r")
    assert result.code == 130 and "Traceback" not in result.err
    assert result.err.startswith("keras-daam: interrupted")


# Folder/label/fit logic, not the backend's maths: once (run_tests.py).
@pytest.mark.backend_independent
def test_train_output_is_never_mixed(run, text_cache, tmp_path):
    out = tmp_path / "run"
    base = ("train", "--cache", text_cache, "--output", out, "--epochs", "1")
    assert run(*base, "--heads", "none_flatten,linear_last_layer").code == 0
    run(*base, "--heads", "daam_h1_flatten,none_flatten").assert_user_error(
        "earlier `keras-daam train` run", "--overwrite"
    )
    assert (
        run(
            *base, "--heads", "daam_h1_flatten,none_flatten", "--overwrite"
        ).code
        == 0
    )
    assert listing(out / "heads") == ["daam_h1_flatten", "none_flatten"]
    report = read_json(out / "report.json")
    assert set(report["results"]) == {"daam_h1_flatten", "none_flatten"}
    (out / "notes.txt").write_text("mine")
    run(*base, "--overwrite").assert_user_error("did not write", "notes.txt")


# ------------------------------------------ wrong readings of ordinary files
@pytest.mark.parametrize(
    "name, header, rows, options",
    [
        (
            "named",
            ("sentence", "category"),
            ROWS,
            ("--text-column", "sentence", "--label-column", "category"),
        ),
        ("swapped", ("label", "text"), [(b, a) for a, b in ROWS], ()),
        (
            "index",
            ("", "text", "label"),
            [(i, a, b) for i, (a, b) in enumerate(ROWS)],
            (),
        ),
    ],
)
def test_columns_are_found_by_name(
    run, tiny_bert_preset, tmp_path, name, header, rows, options
):
    data = write_csv(tmp_path / f"{name}.csv", rows, header=header)
    result = extract(run, tiny_bert_preset, data, tmp_path / "c", *options)
    assert result.code == 0, result.err
    assert "6 texts, 2 classes: pets 3, sky 3" in result.err
    meta = read_json(tmp_path / "c" / "metadata.json")
    assert meta["settings"]["class_names"] == ["pets", "sky"]


def test_a_missing_column_is_named(run, tiny_bert_preset, tmp_path):
    data = write_csv(tmp_path / "d.csv", ROWS, header=("sentence", "category"))
    extract(run, tiny_bert_preset, data, tmp_path / "c").assert_user_error(
        "no column named 'text'", "'sentence'", "--text-column"
    )


def test_a_byte_order_mark_is_not_part_of_the_header(
    run, tiny_bert_preset, tmp_path
):
    data = write_csv(tmp_path / "bom.csv", ROWS, encoding="utf-8-sig")
    result = extract(run, tiny_bert_preset, data, tmp_path / "c")
    assert result.code == 0 and "2 classes" in result.err


def test_numeric_labels_keep_numeric_order(run, tiny_bert_preset, tmp_path):
    rows = [
        (t, lab) for (t, _), lab in zip(ROWS, ["10", "2", "1", "10", "2", "1"])
    ]
    data = write_csv(tmp_path / "n.csv", rows)
    assert extract(run, tiny_bert_preset, data, tmp_path / "c").code == 0
    from keras_daam.features import FeatureCache

    cache = FeatureCache(str(tmp_path / "c"))
    assert cache.class_names == ["1", "2", "10"]
    assert cache.labels.tolist() == [2, 1, 0, 2, 1, 0]


def test_a_latin1_file_names_the_line_and_reads_with_encoding(
    run, tiny_bert_preset, tmp_path
):
    rows = ROWS[:3] + [("café moon", "sky")] + ROWS[4:]
    data = write_csv(tmp_path / "l.csv", rows, encoding="latin-1")
    extract(run, tiny_bert_preset, data, tmp_path / "c").assert_user_error(
        "line 5", "--encoding"
    )
    result = extract(
        run, tiny_bert_preset, data, tmp_path / "c", "--encoding", "latin-1"
    )
    assert result.code == 0


# Folder/label/fit logic, not the backend's maths: once (run_tests.py).
@pytest.mark.backend_independent
def test_test_labels_are_matched_by_name(
    run, tiny_bert_preset, tiny_texts, tmp_path
):
    texts, labels = tiny_texts
    train = write_csv(tmp_path / "train.csv", zip(texts, labels))
    # The test set lacks class_1: matched by index, class_2 would be read
    # as class_1 and the accuracy would collapse.
    test_rows = [(t, lab) for t, lab in zip(texts, labels) if lab != "class_1"]
    test = write_csv(tmp_path / "test.csv", test_rows)
    for data, out in ((train, "tr"), (test, "te")):
        assert (
            extract(
                run,
                tiny_bert_preset,
                data,
                tmp_path / out,
                "--sequence-length",
                "24",
            ).code
            == 0
        )
    result = run(
        "train",
        "--cache",
        tmp_path / "tr",
        "--test-cache",
        tmp_path / "te",
        "--output",
        tmp_path / "run",
        "--heads",
        "none_flatten",
        "--epochs",
        "30",
        "--patience",
        "30",
        "--learning-rates",
        "1e-1",
        "--val-fraction",
        "0.25",
    )
    assert result.code == 0, result.err
    runs = read_json(tmp_path / "run" / "report.json")["results"][
        "none_flatten"
    ]
    # By index, every class_2 row would be scored as class_1: <= 0.5.
    assert runs[0]["test_accuracy"] >= 0.75, runs[0]
    unseen = write_csv(
        tmp_path / "unseen.csv", [("red cat", "class_9"), ("sun", "class_0")]
    )
    assert (
        extract(
            run,
            tiny_bert_preset,
            unseen,
            tmp_path / "un",
            "--sequence-length",
            "24",
        ).code
        == 0
    )
    run(
        "train",
        "--cache",
        tmp_path / "tr",
        "--test-cache",
        tmp_path / "un",
        "--output",
        tmp_path / "run2",
        "--heads",
        "none_flatten",
    ).assert_user_error("never saw", "'class_9'")
    assert not os.path.exists(tmp_path / "run2" / "heads")


# ------------------------------------------------ options that are checked
@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "option, value, fragment",
    [
        ("--learning-rates", "-1", "--learning-rates"),
        ("--learning-rates", "abc", "'abc'"),
        ("--val-fraction", "-0.5", "--val-fraction"),
        ("--batch-size", "0", "--batch-size"),
        ("--epochs", "0", "--epochs"),
        ("--heads", "daam,typo", "'daam'"),
    ],
)
def test_bad_train_options_are_refused_up_front(
    run, tmp_path, option, value, fragment
):
    # The cache does not exist: the options are checked before anything.
    run(
        "train",
        "--cache",
        tmp_path / "none",
        "--output",
        tmp_path / "o",
        f"{option}={value}",
    ).assert_user_error(fragment)


def test_fractions_that_leave_no_training_data_are_refused(
    run, text_cache, tmp_path
):
    run(
        "train",
        "--cache",
        text_cache,
        "--output",
        tmp_path / "o",
        "--val-fraction",
        "0.5",
        "--test-fraction",
        "0.5",
    ).assert_user_error("val_fraction", "0.5")
    assert not os.path.exists(tmp_path / "o")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("--audio-seconds", "0"), ("--audio-seconds", "'0'")),
        (("--batch-size", "0"), ("--batch-size",)),
        (("--sample-rate", "8000"), ("--sample-rate",)),
        (("--layers", "one,two"), ("--layers", "'one,two'")),
        (("--sequence-length", "100"), ("sequence_length", "<= 32", "100")),
    ],
)
def test_bad_extract_options_are_refused_before_the_data_are_read(
    run, tiny_bert_preset, tmp_path, args, fragments
):
    # --data does not exist: each option error must come first.
    result = extract(
        run, tiny_bert_preset, tmp_path / "none.csv", tmp_path / "c", *args
    )
    result.assert_user_error(*fragments)


@pytest.mark.backend_independent
def test_a_missing_preset_is_named_before_the_data(run, tmp_path):
    extract(
        run, tmp_path / "no_preset", tmp_path / "none.csv", tmp_path / "c"
    ).assert_user_error("Preset folder not found", "no_preset")


def test_audio_is_resampled_and_long_clips_are_announced(
    run, tiny_audio_preset, audio_folder, tmp_path
):
    result = extract(
        run,
        tiny_audio_preset,
        audio_folder,
        tmp_path / "c",
        "--audio-seconds",
        "1.0",
    )
    assert result.code == 0, result.err
    assert "2 of 6 clips are longer than 1 s and will be cut" in result.err
    meta = read_json(tmp_path / "c" / "metadata.json")
    pre = meta["settings"]["preprocessing"]
    assert pre["sample_rate"] == 16000 and pre["num_samples"] == 16000
    from keras_daam.features import FeatureCache

    cache = FeatureCache(str(tmp_path / "c"))
    x = np.asarray(cache.features)
    # Clip 0 (16 kHz) and clip 1 (8 kHz, resampled) hold the same tone:
    # their features agree far better than two different tones do.
    names = cache.class_names
    low = names.index("low")
    rows = np.flatnonzero(cache.labels == low)
    same = np.corrcoef(x[rows[0]].ravel(), x[rows[1]].ravel())[0, 1]
    other = np.corrcoef(
        x[rows[0]].ravel(), x[np.flatnonzero(cache.labels != low)[0]].ravel()
    )[0, 1]
    assert same > other


# ------------------------------------------ backbones the CLI can drive
# Folder/label/fit logic, not the backend's maths: once (run_tests.py).
@pytest.mark.backend_independent
def test_cnn_blocks_of_different_widths_need_a_layer_choice(
    run, tiny_image_preset, image_folder, tmp_path
):
    extract(
        run, tiny_image_preset, image_folder, tmp_path / "a"
    ).assert_user_error("different widths", "--layers uniform")
    uniform = extract(
        run,
        tiny_image_preset,
        image_folder,
        tmp_path / "u",
        "--layers",
        "uniform",
        "--image-size",
        "16",
    )
    assert uniform.code == 0, uniform.err
    assert "cached features (9, 4, 16) of 2 classes" in uniform.out
    assert "mode L will be converted to RGB" in uniform.err
    # The same command again reuses the cache (its image size, a tuple,
    # reads back from metadata.json as a list: still the same setting).
    written = os.stat(tmp_path / "u" / "features.npy").st_mtime_ns
    again = extract(
        run,
        tiny_image_preset,
        image_folder,
        tmp_path / "u",
        "--layers",
        "uniform",
        "--image-size",
        "16",
    )
    assert again.code == 0, again.err
    assert "Reusing the finished cache" in again.out
    assert os.stat(tmp_path / "u" / "features.npy").st_mtime_ns == written
    pad = extract(
        run,
        tiny_image_preset,
        image_folder,
        tmp_path / "p",
        "--layers",
        "pad",
        "--image-size",
        "16",
    )
    assert pad.code == 0 and "(9, 6, 1280)" in pad.out


# Folder/label/fit logic, not the backend's maths: once (run_tests.py).
@pytest.mark.backend_independent
def test_heads_that_do_not_fit_fail_before_training(
    run, tiny_bert_preset, tiny_csv, tmp_path
):
    cache = tmp_path / "c3"
    result = extract(
        run,
        tiny_bert_preset,
        tiny_csv,
        cache,
        "--include-embeddings",
        "--sequence-length",
        "24",
    )
    assert result.code == 0 and "(60, 3, 8)" in result.out
    run(
        "train",
        "--cache",
        cache,
        "--output",
        tmp_path / "r",
        "--heads",
        "none_flatten,daam_h2_flatten",
    ).assert_user_error(
        "daam_h2_flatten", "3 x 8", "not divisible by num_heads (2)"
    )
    assert not os.path.exists(tmp_path / "r")
    ok = run(
        "train",
        "--cache",
        cache,
        "--output",
        tmp_path / "r",
        "--heads",
        "daam_h3_flatten",
        "--epochs",
        "1",
    )
    assert ok.code == 0, ok.err


def test_each_head_is_saved_as_soon_as_it_is_trained(
    run, text_cache, tmp_path, monkeypatch
):
    from keras_daam import evaluation

    original = evaluation.fit_and_select
    calls = {"n": 0}

    def second_interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(evaluation, "fit_and_select", second_interrupted)
    monkeypatch.setattr(
        "keras_daam.evaluation.runner.fit_and_select",
        second_interrupted,
        raising=False,
    )
    result = run(
        "train",
        "--cache",
        text_cache,
        "--output",
        tmp_path / "r",
        "--heads",
        "none_flatten,daam_h1_flatten",
        "--epochs",
        "1",
    )
    assert result.code == 130
    assert listing(tmp_path / "r" / "heads") == ["none_flatten"]
    assert read_json(tmp_path / "r" / "run.json")["heads"] == ["none_flatten"]


# ----------------------------------------- using what was trained
def test_extract_and_predict_take_unlabelled_data(
    run, tiny_bert_preset, text_run, tmp_path
):
    texts = write_csv(
        tmp_path / "new.csv",
        [("red cat",), ("sun moon",), ("blue",)],
        header=("text",),
    )
    unlabelled = extract(
        run, tiny_bert_preset, texts, tmp_path / "c", "--sequence-length", "24"
    )
    assert unlabelled.code == 0 and "(unlabelled)" in unlabelled.out
    head = os.path.join(text_run, "heads", "daam_h1_flatten")
    description = read_json(os.path.join(head, "head.json"))
    assert description["class_names"] == ["class_0", "class_1", "class_2"]
    assert description["preprocessing"]["sequence_length"] == 24
    assert description["extractor"]["layer_indices"] == [0, 1]
    assert description["preset"] == os.path.realpath(tiny_bert_preset)
    out = tmp_path / "p.csv"
    result = run("predict", "--model", head, "--data", texts, "--output", out)
    assert result.code == 0, result.err
    import csv

    rows = list(csv.DictReader(open(out)))
    assert [r["item"] for r in rows] == ["red cat", "sun moon", "blue"]
    for r in rows:
        probs = [float(r[f"p(class_{i})"]) for i in range(3)]
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)
        assert r["predicted"] == f"class_{int(np.argmax(probs))}"
    run(
        "predict", "--model", head, "--data", texts, "--output", out
    ).assert_user_error("exists", "--overwrite")


def test_predict_scores_labelled_data(run, text_run, tiny_csv, tmp_path):
    head = os.path.join(text_run, "heads", "none_flatten")
    result = run(
        "predict",
        "--model",
        head,
        "--data",
        tiny_csv,
        "--output",
        tmp_path / "p.csv",
    )
    assert result.code == 0, result.err
    assert "predicted 60 examples" in result.out and "accuracy" in result.out


def test_predict_refuses_a_head_that_does_not_match(
    run, text_run, tiny_csv, tmp_path
):
    import shutil

    head = tmp_path / "head"
    shutil.copytree(os.path.join(text_run, "heads", "none_flatten"), head)
    description = read_json(head / "head.json")
    description["backbone_fingerprint"] = "0" * 64
    (head / "head.json").write_text(json.dumps(description))
    run(
        "predict",
        "--model",
        head,
        "--data",
        tiny_csv,
        "--output",
        tmp_path / "p.csv",
    ).assert_user_error("backbone")
    run(
        "predict",
        "--model",
        tmp_path / "nothing",
        "--data",
        tiny_csv,
        "--output",
        tmp_path / "p.csv",
    ).assert_user_error("nothing")


def test_explain_a_trained_head(run, text_run, text_cache, tmp_path):
    head = os.path.join(text_run, "heads", "daam_h1_flatten")
    result = run(
        "explain",
        "--cache",
        text_cache,
        "--model",
        head,
        "--output",
        tmp_path / "e",
        "--k",
        "1",
    )
    assert result.code == 0, result.err
    info = read_json(tmp_path / "e" / "explanation.json")
    assert sum(info["layer_contribution_percent"]) == pytest.approx(100)
    run(
        "explain",
        "--cache",
        text_cache,
        "--model",
        os.path.join(text_run, "heads", "none_flatten"),
        "--output",
        tmp_path / "e2",
    ).assert_user_error("have no density map")


# ---------------------------------------------- a CLI that explains itself
@pytest.mark.backend_independent
@pytest.mark.parametrize(
    "command", ["demo", "extract", "train", "predict", "explain"]
)
def test_every_option_has_help(command):
    from keras_daam.cli import build_parser

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings} has no help"
    text = sub.format_help()
    if command == "extract":
        assert (
            "minilm" in text
            and "efficientnet_lite0" in text
            and "whisper_tiny_en" in text
        )
        assert "(default: all)" in text


@pytest.mark.backend_independent
def test_heads_lists_the_registry(run):
    result = run("heads")
    assert result.code == 0
    assert "daam_h2_flatten" in result.out and "daamv1" in result.out


# The console script runs under JAX whatever this process's backend: once.
@pytest.mark.backend_independent
def test_quiet_by_default_and_one_line_errors(tiny_bert_preset, tmp_path):
    env = dict(os.environ, KERAS_BACKEND="jax")
    command = [
        sys.executable,
        "-m",
        "keras_daam",
        "extract",
        "--preset",
        tiny_bert_preset,
    ]
    command += [
        "--data",
        str(tmp_path / "none.csv"),
        "--output",
        str(tmp_path / "c"),
    ]
    proc = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert (
        lines[-1].startswith("keras-daam: error:") and "none.csv" in lines[-1]
    )
    assert not any(
        marker in proc.stderr
        for marker in (
            "E0000",
            "I0000",
            "absl",
            "cuInit",
            "oneDNN",
            "Traceback",
        )
    ), proc.stderr
