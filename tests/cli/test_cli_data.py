"""The CLI's data readers and its user-facing errors (no backbone needed)."""

import os
import wave

import numpy as np
import pytest

from keras_daam import cli


def _write_csv(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_read_text_csv_with_and_without_header(tmp_path):
    p = _write_csv(tmp_path / "a.csv", 'text,label\n"hi, there",a\nyo,b\n\n')
    assert cli.read_text_csv(p) == (["hi, there", "yo"], ["a", "b"])
    p = _write_csv(tmp_path / "b.csv", "x,1\ny,2\n")
    assert cli.read_text_csv(p) == (["x", "y"], ["1", "2"])


def test_missing_label_names_the_line(tmp_path):
    p = _write_csv(tmp_path / "a.csv", "text,label\nok,a\nno label,\n")
    with pytest.raises(cli.CLIError, match="line 3: the label is missing"):
        cli.read_text_csv(p)


def test_empty_and_single_class_are_errors():
    with pytest.raises(cli.CLIError, match="empty"):
        cli.encode_labels([])
    with pytest.raises(cli.CLIError, match="single class"):
        cli.encode_labels(["a", "a"])
    y, names = cli.encode_labels(["b", "a", "b"])
    assert names == ["a", "b"] and y.tolist() == [1, 0, 1]


def test_image_folder_skips_and_reports_unreadable(tmp_path):
    import keras

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        img = np.full((10, 12, 3), 100 if label == "cat" else 200, "uint8")
        keras.utils.save_img(str(tmp_path / label / "1.png"), img)
    (tmp_path / "dog" / "broken.png").write_bytes(b"not a png")
    x, labels, skipped = cli.read_image_folder(str(tmp_path), image_size=8)
    assert x.shape == (2, 8, 8, 3) and labels == ["cat", "dog"]
    assert [os.path.basename(f) for f, _ in skipped] == ["broken.png"]
    inputs, y, names, skipped = cli.read_dataset(str(tmp_path), "auto", 8)
    assert names == ["cat", "dog"] and len(skipped) == 1


def _write_wav(path, rate, seconds=0.1, freq=440.0):
    t = np.arange(int(rate * seconds)) / rate
    pcm = (0.5 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def test_audio_folder_resamples_and_skips(tmp_path):
    for label in ("one", "two"):
        (tmp_path / label).mkdir()
        _write_wav(tmp_path / label / "a.wav", 22050)
    (tmp_path / "two" / "bad.wav").write_bytes(b"RIFF garbage")
    assert cli.detect_modality(str(tmp_path)) == "audio"
    waves, labels, skipped = cli.read_audio_folder(str(tmp_path), 16000)
    assert labels == ["one", "two"] and len(skipped) == 1
    assert abs(len(waves[0]) - 1600) <= 1
    assert np.max(np.abs(waves[0])) == pytest.approx(0.5, abs=0.01)


def test_unreadable_only_folder_fails(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.wav").write_bytes(b"junk")
    with pytest.raises(cli.CLIError, match="could be read"):
        cli.read_dataset(str(tmp_path), "audio")


def test_missing_paths_give_clear_errors(tmp_path, capsys):
    assert (
        cli.main(
            [
                "extract",
                "--preset",
                str(tmp_path / "p"),
                "--data",
                str(tmp_path / "none.csv"),
                "--output",
                str(tmp_path / "c"),
            ]
        )
        == 2
    )
    assert "No such CSV file" in capsys.readouterr().err
    assert cli.main(["train", "--cache", str(tmp_path), "--output", "o"]) == 2
    assert "feature cache" in capsys.readouterr().err


def test_stratified_split_is_seeded_and_disjoint():
    y = np.repeat(np.arange(3), 20)
    a = cli.stratified_split(y, [0.1, 0.2], seed=1)
    b = cli.stratified_split(y, [0.1, 0.2], seed=1)
    assert all((u == v).all() for u, v in zip(a, b))
    assert sorted(np.concatenate(a).tolist()) == list(range(60))
    assert [len(p) for p in a] == [42, 6, 12]
    assert all(len(np.unique(y[p])) == 3 for p in a)


def test_bad_arguments_exit_nonzero():
    with pytest.raises(SystemExit):
        cli.main(["demo", "--seeds", "0"])
    with pytest.raises(SystemExit):
        cli.main(["nonsense"])
