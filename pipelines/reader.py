"""Read one data file whatever its shape: the format is decided by content, not by the extension.

Handles gzip (by magic bytes), Parquet (``PAR1``), JSON Lines, JSON arrays and delimited text with
a sniffed delimiter (``,`` ``;`` tab ``|``), byte-order marks (UTF-8 and UTF-16) and legacy
encodings (UTF-8, else Windows-1252). Every value comes back as text so that coercion can decide
what is lossless; each row keeps its 1-based data-row position; rows that cannot be parsed at all
(wrong field count, broken JSON) come back as malformed rows instead of being dropped.

Usage::

    batch = read_file(Path("incoming/2026-11-01.csv.gz"))
    batch.frame           # polars DataFrame of strings + "__row"
    batch.malformed       # [(row, raw text, why)]
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from slipway.errors import SlipwayError

ROW = "__row"
GZIP_MAGIC = b"\x1f\x8b"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
UTF8_BOM = b"\xef\xbb\xbf"
DELIMITERS = ",;\t|"


class UnreadableFile(SlipwayError):
    """The file cannot be read as data at all (the whole file is quarantined as one batch)."""


@dataclass
class Batch:
    frame: pl.DataFrame
    format: str
    encoding: str
    malformed: list[tuple[int, str, str]] = field(default_factory=list)


def _decode(data: bytes) -> tuple[str, str]:
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace"), f"{encoding}+bom"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def read_file(path: Path) -> Batch:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror}") from None
    return read_bytes(data, str(path))


def read_data_file(path: Path) -> Batch:
    """``read_file`` for a file a person named on the command line: UsageError when it is absent or
    unreadable (the pipeline instead quarantines an unreadable file)."""
    from slipway.errors import UsageError

    if not path.is_file():
        raise UsageError(f"no such data file: {path}")
    try:
        return read_file(path)
    except UnreadableFile as exc:
        raise UsageError(f"cannot read {exc}") from None


def read_bytes(data: bytes, name: str) -> Batch:
    """The same, for data that did not come from a file (an HTTP body); ``name`` is for messages."""
    compressed = data[:2] == GZIP_MAGIC
    if compressed:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise UnreadableFile(f"{name}: corrupt gzip data ({exc})") from None
    return read_plain(data, name, "gzip+" if compressed else "")


def read_plain(data: bytes, name: str, prefix: str) -> Batch:
    """Uncompressed data; ``prefix`` names what it was unwrapped from (``gzip+``)."""
    path = name
    if data[:4] == b"PAR1":
        try:
            frame = pl.read_parquet(io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - any parquet failure makes the file unreadable
            raise UnreadableFile(f"{path}: unreadable Parquet ({exc})") from None
        return Batch(as_text(frame), prefix + "parquet", "binary")
    fast = _delimited_fast(data, prefix)
    if fast is not None:
        return fast
    text, encoding = _decode(data)
    stripped = text.lstrip()
    if not stripped:
        return Batch(pl.DataFrame({ROW: pl.Series([], dtype=pl.Int64)}), prefix + "empty", encoding)
    if stripped[0] == "[":
        return _json_array(text, prefix, encoding, path)
    if stripped[0] == "{":
        envelope = _json_envelope(text)
        if envelope is not None:
            return _json_array(json.dumps(envelope), prefix, encoding, path)
        return _json_lines(text, prefix, encoding)
    return _delimited(text, prefix, encoding)


def numbered(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with its 1-based data-row position in ``__row``."""
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return numbered(frame.select(pl.col(c).cast(pl.String, strict=False) for c in frame.columns))


def _records_frame(records: list[dict[str, Any]], rows: list[int]) -> pl.DataFrame:
    columns: dict[str, list[str | None]] = {}
    for position, record in enumerate(records):
        for key in record:
            columns.setdefault(str(key), [None] * len(records))
        for key, value in record.items():
            columns[str(key)][position] = (
                None
                if value is None
                else (
                    json.dumps(value)
                    if isinstance(value, (dict, list))
                    else str(value).lower()
                    if isinstance(value, bool)
                    else str(value)
                )
            )
    frame = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in columns.items()})
    return frame.with_columns(pl.Series(ROW, rows, dtype=pl.Int64))


def _json_lines(text: str, prefix: str, encoding: str) -> Batch:
    records, rows, malformed = [], [], []
    number = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        number += 1
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            malformed.append((number, line, f"not JSON: {exc.msg}"))
            continue
        if not isinstance(value, dict):
            malformed.append((number, line, "a JSON line must be an object"))
            continue
        records.append(value)
        rows.append(number)
    return Batch(_records_frame(records, rows), prefix + "jsonl", encoding, malformed)


def _json_envelope(text: str) -> list[Any] | None:
    """``{"records": [...]}`` (or ``data``/``items``), the shape most HTTP APIs answer with."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(value, dict) and len(value) >= 1:
        for key in ("records", "data", "items"):
            if isinstance(value.get(key), list):
                return list(value[key])
    return None


def _json_array(text: str, prefix: str, encoding: str, path: str) -> Batch:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableFile(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    records, rows, malformed = [], [], []
    for number, value in enumerate(values, start=1):
        if isinstance(value, dict):
            records.append(value)
            rows.append(number)
        else:
            malformed.append((number, json.dumps(value), "an array item must be an object"))
    return Batch(_records_frame(records, rows), prefix + "json", encoding, malformed)


def _sniff(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        return max(DELIMITERS, key=header.count)


def _delimited_fast(data: bytes, prefix: str) -> Batch | None:
    """Well-formed UTF-8 delimited text straight from bytes (no Python string copy of the file)."""
    if data.startswith(UTF16_BOMS):
        return None
    head = data.removeprefix(UTF8_BOM)[:65536].decode("utf-8", errors="replace").lstrip()
    if not head or head[0] in "[{":
        return None
    # None (not UTF-8, or ragged rows): the careful path names every bad row
    return _strict_utf8(data, _sniff(head), prefix)


def _strict_utf8(data: bytes, delimiter: str, prefix: str) -> Batch | None:
    """`_strict_delimited` on UTF-8 bytes, with or without a byte-order mark."""
    bom = data.startswith(UTF8_BOM)
    return _strict_delimited(data.removeprefix(UTF8_BOM), delimiter, prefix, "utf-8+bom" if bom else "utf-8")


def sniff_delimiter(data: bytes) -> str:
    """The delimiter of delimited text, judged from its first 64 KiB."""
    return _sniff(_decode(data[:65536])[0])


def delimited_batch(data: bytes, prefix: str, delimiter: str) -> Batch:
    """Delimited text (header line first) with a known delimiter: fast when well formed, else row by row."""
    strict = _strict_utf8(data, delimiter, prefix)
    if strict is not None:
        return strict
    text, encoding = _decode(data)
    return _delimited(text, prefix, encoding, delimiter)


def json_lines_batch(data: bytes, prefix: str) -> Batch:
    text, encoding = _decode(data)
    return _json_lines(text, prefix, encoding)


def _delimited_format(prefix: str, delimiter: str) -> str:
    return prefix + {",": "csv", ";": "csv;", "\t": "tsv", "|": "psv"}[delimiter]


def _strict_delimited(body: bytes, delimiter: str, prefix: str, encoding: str) -> Batch | None:
    """All-text batch, or None when any row has too many *or too few* fields (or bytes are not UTF-8).

    Polars pads short rows with nulls, which would pass a truncated row off as one with missing
    values, so Arrow's reader first checks every row's field count (converting one column only).
    """
    head = body[:65536].decode("utf-8", errors="replace")
    names = next(csv.reader(io.StringIO(head), delimiter=delimiter), [])
    if not names:
        return None
    try:
        pacsv.read_csv(
            io.BytesIO(body),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(include_columns=names[:1], column_types={names[0]: pa.string()}),
        )
        frame = pl.read_csv(body, separator=delimiter, infer_schema=False, has_header=True, truncate_ragged_lines=False)
    except (pa.ArrowInvalid, pl.exceptions.PolarsError):
        return None
    return Batch(numbered(frame), _delimited_format(prefix, delimiter), encoding)


def _delimited(text: str, prefix: str, encoding: str, delimiter: str | None = None) -> Batch:
    delimiter = delimiter or _sniff(text[:65536])
    strict = _strict_delimited(text.encode("utf-8"), delimiter, prefix, encoding)
    if strict is not None:
        return strict
    # ragged or oddly quoted rows: read row by row so that each bad row is kept and named
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, [])
    records, rows, malformed = [], [], []
    for number, fields in enumerate(reader, start=1):
        if not fields:
            continue
        if len(fields) != len(header):
            raw = delimiter.join(fields)
            malformed.append((number, raw, f"{len(fields)} fields where the header has {len(header)}"))
            continue
        records.append({name: (value if value != "" else None) for name, value in zip(header, fields, strict=True)})
        rows.append(number)
    return Batch(_records_frame(records, rows), _delimited_format(prefix, delimiter), encoding, malformed)
