"""Text tables (CSV, TSV): columns found by name, encodings, line numbers."""

import codecs
import csv
import io
import os
import re

from keras_daam.data.dataset import Dataset
from keras_daam.utils import check_choice
from keras_daam.utils import check_int

LABEL_MODES = ("required", "optional", "none")
_DELIMITERS = {".tsv": "\t", ".tab": "\t", ".csv": ","}
_SNIFF_DELIMITERS = ",\t;|"
_SNIFF_BYTES = 64 * 1024
# What pandas' `to_csv` writes above an unnamed index: "" or "Unnamed: 0".
_INDEX_HEADER = re.compile(r"(unnamed: ?\d+)?")
_BOMS = {codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}


def _norm(cell):
    return cell.replace("\ufeff", "").strip().lower()


def _where(name, start, end):
    if start == end:
        return f"{name} line {start}"
    return f"{name} lines {start}-{end}"


def _suggest_encoding(data):
    # Bytes 0x80-0x9f are control codes in Latin-1 but letters and
    # punctuation (curly quotes, the euro sign) in Windows-1252.
    if re.search(rb"[\x80-\x9f]", data):
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    return "latin-1"


def _decode_error(path, data, error, encoding):
    line_start = data.rfind(b"\n", 0, error.start) + 1
    line_end = data.find(b"\n", error.start)
    line_end = len(data) if line_end < 0 else line_end
    line = data[: error.start].count(b"\n") + 1
    snippet = data[line_start:line_end][:80].decode(encoding, "replace")
    bad = data[error.start : error.end].hex(" ")
    guess = _suggest_encoding(data)
    return ValueError(
        f"{path}: line {line} is not valid {encoding} (byte {bad} at "
        f"offset {error.start}: {snippet.strip()!r}). Pass the file's "
        f"encoding, e.g. encoding={guess!r} (`--encoding {guess}`)."
    )


def _decode(path, data, encoding, notes):
    """The file's text, and a note on the encoding when it is not plain."""
    if encoding is None:
        for bom, codec in _BOMS.items():
            if data.startswith(bom):
                notes.append("encoding: UTF-16 (from its byte-order mark)")
                encoding = codec
                break
        else:
            encoding = "utf-8"
            if data.startswith(codecs.BOM_UTF8):
                notes.append(
                    "encoding: UTF-8 with a byte-order mark (BOM removed)"
                )
                data = data[len(codecs.BOM_UTF8) :]
    else:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(
                f"Unknown `encoding`. Received: encoding={encoding!r}"
            ) from None
        if codecs.lookup(encoding).name != "utf-8":
            notes.append(f"encoding: {encoding}")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise _decode_error(path, data, e, encoding) from None
    if text.startswith("\ufeff"):
        if not any(n.startswith("encoding: UTF") for n in notes):
            notes.append("byte-order mark at the start removed")
        text = text[1:]
    return text


def _choose_delimiter(path, text, delimiter, notes):
    if delimiter is not None:
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ValueError(
                "`delimiter` must be a single character. Received: "
                f"delimiter={delimiter!r}"
            )
        return delimiter
    extension = os.path.splitext(path)[1].lower()
    if extension in _DELIMITERS:
        return _DELIMITERS[extension]
    try:
        found = (
            csv.Sniffer()
            .sniff(text[:_SNIFF_BYTES], delimiters=_SNIFF_DELIMITERS)
            .delimiter
        )
        notes.append(f"delimiter: {found!r} (detected)")
        return found
    except csv.Error:
        notes.append("delimiter: ',' (none detected; comma assumed)")
        return ","


class _Rows:
    """csv rows with the file lines each one spans (1-based, inclusive)."""

    def __init__(self, name, text, delimiter):
        self.name = name
        # strict: an unclosed quote is an error, not the rest of the file
        # swallowed into one field.
        self.reader = csv.reader(
            io.StringIO(text, newline=""), delimiter=delimiter, strict=True
        )
        self.end = 0

    def __iter__(self):
        while True:
            start = self.end + 1
            try:
                row = next(self.reader)
            except StopIteration:
                return
            except csv.Error as e:
                raise ValueError(
                    f"{_where(self.name, start, self.reader.line_num)}: "
                    f"malformed row ({e}). Quote a text that contains the "
                    'delimiter, a quote (write it twice: "") or a line break.'
                ) from None
            self.end = self.reader.line_num
            yield start, self.end, row


def _column_spec(role, value, header):
    """An int position, a str name, or None; checked."""
    if value is None:
        return None
    if isinstance(value, str):
        if not header:
            raise ValueError(
                f"With header=False columns are positions: give "
                f"`{role}_column` as an int (0 for the first column). "
                f"Received: {role}_column={value!r}"
            )
        return value
    return check_int(f"{role}_column", value, minimum=0)


def _find_column(name, cells, role, value, header_line):
    if isinstance(value, int):
        if header_line is not None and value >= len(cells):
            raise ValueError(
                f"{name}: `{role}_column={value}` is out of range: the "
                f"header row (line {header_line}) has {len(cells)} columns."
            )
        return value
    matches = [i for i, cell in enumerate(cells) if _norm(cell) == _norm(value)]
    if len(matches) > 1:
        raise ValueError(
            f"{name}: columns {', '.join(str(i) for i in matches)} of the "
            f"header row (line {header_line}) are all named {value!r}; "
            f"choose one by position (`{role}_column` as an int)."
        )
    return matches[0] if matches else None


def _not_found(name, cells, role, value, header_line, hint):
    found = ", ".join(repr(c.strip()) for c in cells)
    message = (
        f"{name}: no column named {value!r} for the {role}s. The header row "
        f"(line {header_line}) has: {found}. Choose the columns with "
        "text_column= and label_column= (`--text-column`, "
        "`--label-column`)"
    )
    if len(cells) == 1:
        for sep in ";\t|,":
            if sep in cells[0]:
                message += (
                    f"; the header looks {sep!r}-separated: pass "
                    f"delimiter={sep!r}"
                )
                break
    return ValueError(message + hint)


def _describe(cells, index):
    cell = cells[index].replace("\ufeff", "").strip() if cells else ""
    return f"column {cell!r}" if cells else f"column {index}"


def read_text_table(
    path,
    text_column="text",
    label_column="label",
    labels="required",
    encoding=None,
    delimiter=None,
    header=True,
):
    """Reads texts (and labels) from a CSV or TSV file.

    The first row is the header and columns are found by name
    (case-insensitive, surrounding spaces and a byte-order mark ignored),
    so `sentence,category`, `label,text` or a leading index column as
    pandas writes it (an empty first header cell, or `Unnamed: 0`) all
    work; every other column is ignored and `notes` says which. Quoted
    fields may hold the delimiter, quotes (doubled) and line breaks.
    Blank lines are skipped silently; a row whose text is empty is skipped
    and reported in `skipped` with its line number. A row with too few
    cells, or with more non-empty cells than the header (usually an
    unquoted delimiter inside a text), is an error naming the line. Line
    numbers are 1-based lines of the file, so a row after a multi-line
    field is named by the line it starts on.

    Args:
        path: str or path. The file.
        text_column: str or int. The text column: a header name, or a
            0-based position (an int always means a position). Defaults to
            `"text"`.
        label_column: str, int or `None`. The label column, likewise.
            Defaults to `"label"`.
        labels: str. `"required"`: every row needs a label (a row without
            one is an error naming the line); `"optional"`: the label
            column is used if the header has it (then every row needs a
            label), else the data is read unlabelled; `"none"`: labels are
            ignored (data to predict on). Defaults to `"required"`.
        encoding: str or `None`. The file's text encoding. `None` reads
            UTF-8 (a byte-order mark is removed; a UTF-16 file with a
            byte-order mark is read as UTF-16), and a file that is not
            valid UTF-8 is an error naming the line and byte offset and
            suggesting an encoding. Defaults to `None`.
        delimiter: str or `None`. The cell separator. `None` picks tab for
            `.tsv` / `.tab`, comma for `.csv`, and otherwise detects it
            (`csv.Sniffer`; comma when undetectable). Defaults to `None`.
        header: bool. Whether the first row is a header. With `False`,
            columns must be positions; the default names then mean 0 (text)
            and 1 (label). Defaults to `True`.

    Returns:
        A `Dataset` with `modality="text"`, the texts as `items` (as written,
        not stripped), the labels stripped of surrounding spaces (or
        `None`), and each row's file line in `info(i)["line"]`.

    Example:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
    >>> _ = path.write_text("id,sentence,category\\n1,good film,pos\\n")
    >>> data = read_text_table(path, "sentence", "category")
    >>> data.items, data.labels
    (['good film'], ['pos'])
    """
    check_choice("labels", labels, LABEL_MODES)
    if not isinstance(header, bool):
        raise ValueError(
            f"`header` must be True or False. Received: header={header!r}"
        )
    if not header:
        text_column = 0 if text_column == "text" else text_column
        label_column = 1 if label_column == "label" else label_column
    text_spec = _column_spec("text", text_column, header)
    label_spec = _column_spec("label", label_column, header)
    if labels == "none":
        label_spec = None
    elif label_spec is None and labels == "required":
        raise ValueError(
            "labels='required' needs a `label_column`; use labels='none' to "
            "read texts without labels."
        )
    path = os.path.abspath(os.fspath(path))
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such file: {path}")
    with open(path, "rb") as f:
        data = f.read()
    notes = []
    text = _decode(path, data, encoding, notes)
    delimiter = _choose_delimiter(path, text, delimiter, notes)
    rows = [r for r in _Rows(name, text, delimiter) if r[2]]
    if not rows:
        raise ValueError(f"{path}: the file holds no rows.")
    if header:
        (header_line, _, cells), rows = rows[0], rows[1:]
        width = len(cells)
    else:
        cells, header_line, width = [], None, len(rows[0][2])
    text_index = _find_column(path, cells, "text", text_spec, header_line)
    if text_index is None:
        raise _not_found(
            path,
            cells,
            "text",
            text_spec,
            header_line,
            ", or header=False (`--no-header`) if the file has no header row.",
        )
    unused_label = None
    if labels == "none" and label_column is not None and header:
        try:
            unused_label = _find_column(
                path, cells, "label", label_column, header_line
            )
        except ValueError:
            pass
    label_index = None
    if label_spec is not None:
        if header:
            label_index = _find_column(
                path, cells, "label", label_spec, header_line
            )
        elif label_spec < width or labels == "required":
            label_index = label_spec
        if label_index is None and labels == "required":
            raise _not_found(
                path,
                cells,
                "label",
                label_spec,
                header_line,
                ", or read the texts without labels (labels='none').",
            )
        if label_index is None:
            where = (
                f"{label_spec!r} column"
                if header
                else (f"column {label_spec} in the first row")
            )
            notes.append(f"no {where}: read without labels")
    if label_index == text_index:
        raise ValueError(
            f"{path}: the text and label columns are the same column "
            f"({_describe(cells, text_index)})."
        )
    if header:
        used = f"{_describe(cells, text_index)} (text)"
        if label_index is not None:
            used = (
                f"columns {cells[text_index].strip()!r} (text) and "
                f"{cells[label_index].strip()!r} (label)"
            )
        ignored = []
        for i, cell in enumerate(cells):
            if i in (text_index, label_index):
                continue
            why = ""
            if i == 0 and _INDEX_HEADER.fullmatch(_norm(cell)):
                why = " (an index column)"
            elif i == unused_label:
                why = " (labels='none')"
            shown = cell.replace("\ufeff", "").strip()
            ignored.append(f"column {shown!r} ignored{why}")
        notes.append(
            f"header row (line {header_line}): " + "; ".join([used] + ignored)
        )
    else:
        notes.append(
            f"no header row: text from column {text_index}"
            + ("" if label_index is None else f", labels from {label_index}")
        )

    needed = max(text_index, -1 if label_index is None else label_index) + 1
    items, targets, info, skipped = [], [], [], []
    for start, end, row in rows:
        where = _where(name, start, end)
        if not any(cell.strip() for cell in row):
            skipped.append((where, "empty row"))
            continue
        if len(row) < needed:
            role, index = (
                ("text", text_index)
                if len(row) <= text_index
                else ("label", label_index)
            )
            raise ValueError(
                f"{where}: {len(row)} cell{'s' * (len(row) != 1)}, but the "
                f"{role} is in {_describe(cells, index)}, cell {index + 1}. "
                f"Every row needs {needed} cells."
            )
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise ValueError(
                f"{where}: {len(row)} cells, but the "
                f"{'header' if header else 'first row'} has {width}: a "
                "text that contains the delimiter "
                f"{delimiter!r} must be quoted."
            )
        if not row[text_index].strip():
            skipped.append((where, "empty text"))
            continue
        if label_index is not None:
            label = row[label_index].strip()
            if not label:
                raise ValueError(
                    f"{where}: the label ({_describe(cells, label_index)}) "
                    "is empty. Every row needs a label; read the texts "
                    "without labels with labels='none'."
                )
            targets.append(label)
        items.append(row[text_index])
        info.append({"line": start})
    if not items:
        reasons = "; ".join(f"{w}: {why}" for w, why in skipped[:5])
        raise ValueError(
            f"{path}: no rows with text"
            + (f" ({len(skipped)} skipped: {reasons})" if skipped else ".")
        )
    return Dataset(
        modality="text",
        source=path,
        items=items,
        labels=targets if label_index is not None else None,
        skipped=skipped,
        notes=notes,
        item_info=info,
    )
