"""Tests of `read_text_table`: headers by name, encodings, line numbers."""

import csv

import pytest

from keras_daam.data import read_text_table

# Readers and loaders only: no Keras backend runs here.
pytestmark = pytest.mark.backend_independent


def _write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _rows(path, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(rows)
    return path


def test_columns_found_by_name_in_any_order(tmp_path):
    path = _rows(
        tmp_path / "d.csv",
        [["label", "text"], ["pos", "good film"], ["neg", "bad film"]],
    )
    data = read_text_table(path)
    assert data.items == ["good film", "bad film"]
    assert data.labels == ["pos", "neg"]
    assert data.modality == "text" and data.source == str(path)


def test_named_columns_case_and_spaces(tmp_path):
    path = _write(tmp_path / "d.csv", " Sentence ,CATEGORY\nhi,x\nyo,y\n")
    data = read_text_table(
        path, text_column="sentence", label_column="Category"
    )
    assert data.items == ["hi", "yo"] and data.labels == ["x", "y"]
    assert any(
        "'Sentence' (text) and 'CATEGORY' (label)" in n for n in data.notes
    )


def test_pandas_index_column_ignored_and_noted(tmp_path):
    path = _rows(
        tmp_path / "d.csv",
        [["", "text", "label", "source"], ["0", "hello", "a", "web"]],
    )
    data = read_text_table(path)
    assert data.items == ["hello"] and data.labels == ["a"]
    (note,) = [n for n in data.notes if n.startswith("header row")]
    assert "column '' ignored (an index column)" in note
    assert "column 'source' ignored" in note
    path = _rows(
        tmp_path / "e.csv", [["Unnamed: 0", "text", "label"], ["0", "x", "b"]]
    )
    assert read_text_table(path).items == ["x"]
    assert "an index column" in read_text_table(path).notes[-1]


def test_utf8_bom_is_stripped(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\nna\xc3\xafve,a\n")
    data = read_text_table(path)
    assert data.items == ["na\u00efve"] and data.labels == ["a"]
    assert any("byte-order mark" in n for n in data.notes)
    # An explicit utf-8 leaves the BOM in the text; it is removed anyway.
    assert read_text_table(path, encoding="utf-8").items == ["na\u00efve"]


def test_utf16_with_bom_is_read(tmp_path):
    path = _write(tmp_path / "d.tsv", "text\tlabel\nsch\u00f6n\t1\n", "utf-16")
    data = read_text_table(path)
    assert data.items == ["sch\u00f6n"]
    assert any("UTF-16" in n for n in data.notes)


def test_latin1_error_names_line_then_reads_with_encoding(tmp_path):
    path = _write(
        tmp_path / "old.csv",
        "text,label\nfine,a\ncaf\u00e9 cr\u00e8me,b\n",
        "latin-1",
    )
    with pytest.raises(ValueError) as info:
        read_text_table(path)
    message = str(info.value)
    assert "line 3" in message and "old.csv" in message
    assert "offset 21" in message  # len(b"text,label\nfine,a\ncaf")
    assert "--encoding latin-1" in message
    data = read_text_table(path, encoding="latin-1")
    assert data.items == ["fine", "caf\u00e9 cr\u00e8me"]
    assert "encoding: latin-1" in data.notes


def test_cp1252_is_suggested_for_windows_quotes(tmp_path):
    path = _write(
        tmp_path / "w.csv", "text,label\n\u201chi\u201d,a\n", "cp1252"
    )
    with pytest.raises(ValueError, match="encoding='cp1252'"):
        read_text_table(path)
    assert read_text_table(path, encoding="cp1252").items == ["\u201chi\u201d"]


def test_unknown_encoding_is_an_argument_error(tmp_path):
    path = _write(tmp_path / "d.csv", "text,label\nx,a\n")
    with pytest.raises(ValueError, match="encoding='klingon'"):
        read_text_table(path, encoding="klingon")


def test_tsv_and_sniffed_delimiters(tmp_path):
    tsv = _write(tmp_path / "d.tsv", "text\tlabel\na, b\tx\n")
    assert read_text_table(tsv).items == ["a, b"]
    semi = _write(tmp_path / "d.txt", "text;label\nhello;x\nbye;y\n")
    data = read_text_table(semi)
    assert data.labels == ["x", "y"]
    assert "delimiter: ';' (detected)" in data.notes


def test_semicolon_csv_error_hints_at_delimiter(tmp_path):
    path = _write(tmp_path / "d.csv", "text;label\nhello;x\n")
    with pytest.raises(ValueError, match="delimiter=';'"):
        read_text_table(path)
    assert read_text_table(path, delimiter=";").items == ["hello"]


def test_quoted_commas_and_newlines_keep_line_numbers(tmp_path):
    path = _write(
        tmp_path / "q.csv",
        'text,label\n"one, two",a\n"multi\nline\ntext",b\n,c\n"say ""hi""",d\n',
    )
    data = read_text_table(path)
    assert data.items == ["one, two", "multi\nline\ntext", 'say "hi"']
    assert [data.info(i)["line"] for i in range(3)] == [2, 3, 7]
    # The empty text after the 3-line field is on line 6.
    assert data.skipped == [("q.csv line 6", "empty text")]


def test_missing_label_is_an_error_naming_the_line(tmp_path):
    path = _write(tmp_path / "d.csv", 'text,label\n"a\nb",x\nc,\n')
    with pytest.raises(ValueError, match=r"d\.csv line 4: the label"):
        read_text_table(path)
    short = _write(tmp_path / "s.csv", "text,label\na,x\nb\n")
    with pytest.raises(ValueError, match=r"s\.csv line 3: 1 cell"):
        read_text_table(short)


def test_unquoted_delimiter_is_an_error(tmp_path):
    path = _write(tmp_path / "d.csv", "text,label\nhello, world,a\n")
    with pytest.raises(ValueError, match="line 2: 3 cells.*must be quoted"):
        read_text_table(path)
    # Trailing empty cells (as spreadsheets write) are fine.
    ok = _write(tmp_path / "e.csv", "text,label\nhello,a,,\n")
    assert read_text_table(ok).labels == ["a"]


def test_unclosed_quote_is_an_error_not_a_swallowed_file(tmp_path):
    path = _write(tmp_path / "d.csv", 'text,label\n"oops,a\nb,c\n')
    with pytest.raises(ValueError, match="lines 2-3: malformed row"):
        read_text_table(path)


def test_blank_lines_silent_empty_texts_reported(tmp_path):
    path = _write(tmp_path / "d.csv", "text,label\n\nx,a\n   ,b\n\n,,\ny,c\n")
    data = read_text_table(path)
    assert data.items == ["x", "y"]
    assert data.skipped == [
        ("d.csv line 4", "empty text"),
        ("d.csv line 6", "empty row"),
    ]
    assert "2 rows skipped" in data.summary()


def test_text_column_not_found_names_everything(tmp_path):
    path = _write(tmp_path / "d.csv", "sentence,category\nhi,x\n")
    with pytest.raises(ValueError) as info:
        read_text_table(path)
    message = str(info.value)
    for part in ("d.csv", "'text'", "'sentence', 'category'", "--text-column"):
        assert part in message
    with pytest.raises(ValueError, match="no column named 'label'"):
        read_text_table(path, text_column="sentence")


def test_labels_modes(tmp_path):
    path = _write(tmp_path / "d.csv", "text,label\nx,a\ny,b\n")
    data = read_text_table(path, labels="none")
    assert data.labels is None and data.items == ["x", "y"]
    assert "unlabelled" in data.summary()
    assert any("'label' ignored (labels='none')" in n for n in data.notes)
    assert read_text_table(path, labels="optional").labels == ["a", "b"]
    bare = _write(tmp_path / "t.csv", "text\nx\ny\n")
    data = read_text_table(bare, labels="optional")
    assert data.labels is None
    assert "no 'label' column: read without labels" in data.notes
    with pytest.raises(ValueError, match="no column named 'label'"):
        read_text_table(bare)
    with pytest.raises(ValueError, match="`labels` must be one of"):
        read_text_table(path, labels="maybe")


def test_headerless_by_position(tmp_path):
    path = _write(tmp_path / "d.csv", "7,hello\n3,bye\n")
    data = read_text_table(path, text_column=1, label_column=0, header=False)
    assert data.items == ["hello", "bye"] and data.labels == ["7", "3"]
    # Integer columns are positions with a header too.
    path = _write(tmp_path / "h.csv", "a,b\nx,1\n")
    assert read_text_table(path, text_column=0, label_column=1).items == ["x"]
    with pytest.raises(ValueError, match="columns are positions"):
        read_text_table(path, text_column="a", header=False)
    with pytest.raises(ValueError, match="out of range"):
        read_text_table(path, text_column=5)


def test_same_column_twice_is_an_error(tmp_path):
    path = _write(tmp_path / "d.csv", "text,label\nx,a\n")
    with pytest.raises(ValueError, match="same column"):
        read_text_table(path, label_column="TEXT")


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such file"):
        read_text_table(tmp_path / "none.csv")
    empty = _write(tmp_path / "e.csv", "\n\n")
    with pytest.raises(ValueError, match="no rows"):
        read_text_table(empty)
    only_header = _write(tmp_path / "h.csv", "text,label\n,a\n")
    with pytest.raises(ValueError, match="no rows with text.*empty text"):
        read_text_table(only_header)
