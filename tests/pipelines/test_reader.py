"""Reading files by content: encodings, BOMs, compression, delimiters, JSON shapes, Parquet, bad rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.reader import ROW, UnreadableFile, read_file


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_csv_with_bom_keeps_text_and_positions(tmp_path: Path) -> None:
    batch = read_file(_write(tmp_path / "a.csv", b"\xef\xbb\xbfid,value\nr1,12.5\nr2,N/A\n"))
    assert batch.format == "csv" and batch.encoding == "utf-8+bom"
    assert set(batch.frame.columns) == {"id", "value", ROW}
    assert batch.frame.select("id", "value", ROW).rows() == [("r1", "12.5", 1), ("r2", "N/A", 2)]


@pytest.mark.parametrize(("delimiter", "fmt"), [(";", "csv;"), ("\t", "tsv"), ("|", "psv")])
def test_delimiters_are_sniffed(tmp_path: Path, delimiter: str, fmt: str) -> None:
    text = delimiter.join(["id", "a", "b"]) + "\n" + delimiter.join(["r1", "1,5", "2"]) + "\n"
    batch = read_file(_write(tmp_path / "data.dat", text.encode()))
    assert batch.format == fmt
    assert batch.frame["a"].to_list() == ["1,5"]


def test_gzip_and_legacy_encoding(tmp_path: Path) -> None:
    data = gzip.compress("id;note\nr1;café\n".encode("cp1252"))
    batch = read_file(_write(tmp_path / "x.csv.gz", data))
    assert batch.format == "gzip+csv;" and batch.encoding == "cp1252"
    assert batch.frame["note"].to_list() == ["café"]


def test_json_lines_keep_broken_lines_as_malformed_rows(tmp_path: Path) -> None:
    text = '{"id": "r1", "v": 1}\n{"id": "r2", "v":\n["not", "an object"]\n{"id": "r4", "v": true}\n'
    batch = read_file(_write(tmp_path / "data.txt", text.encode()))  # format from content, not extension
    assert batch.format == "jsonl"
    assert batch.frame.select("id", "v", ROW).rows() == [("r1", "1", 1), ("r4", "true", 4)]
    assert [(row, why.split(":")[0]) for row, _, why in batch.malformed] == [
        (2, "not JSON"),
        (3, "a JSON line must be an object"),
    ]


def test_json_arrays_and_parquet(tmp_path: Path) -> None:
    batch = read_file(_write(tmp_path / "a.json", json.dumps([{"id": "r1"}, 5]).encode()))
    assert batch.frame["id"].to_list() == ["r1"] and batch.malformed[0][0] == 2
    pl.DataFrame({"id": ["p1"], "v": [1.5]}).write_parquet(tmp_path / "p.bin")
    batch = read_file(tmp_path / "p.bin")
    assert batch.format == "parquet" and batch.frame.select("id", "v", ROW).rows() == [("p1", "1.5", 1)]


def test_rows_with_extra_fields_are_malformed_not_dropped(tmp_path: Path) -> None:
    batch = read_file(_write(tmp_path / "r.csv", b"id,v\nr1,1\nr2,2,extra\nr3,3\n"))
    assert batch.frame["id"].to_list() == ["r1", "r3"]
    assert batch.frame[ROW].to_list() == [1, 3]
    assert batch.malformed == [(2, "r2,2,extra", "3 fields where the header has 2")]


@pytest.mark.parametrize("encoded", ["utf-8", "cp1252"])
def test_truncated_rows_are_malformed_not_padded_with_missing_values(tmp_path: Path, encoded: str) -> None:
    text = 'id,v,note\nr1,1,\xe9t\xe9\nr2,2\n"r,3",3,""\n'
    batch = read_file(_write(tmp_path / "t.csv", text.encode(encoded)))
    rows = batch.frame.sort(ROW).select("id", "v", "note", ROW).rows()
    assert rows == [("r1", "1", "\xe9t\xe9", 1), ("r,3", "3", None, 3)]
    assert batch.malformed == [(2, "r2,2", "2 fields where the header has 3")]


def test_unreadable_files_raise(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="corrupt gzip"):
        read_file(_write(tmp_path / "bad.gz", b"\x1f\x8b\x08garbage"))
    with pytest.raises(UnreadableFile, match="not valid JSON"):
        read_file(_write(tmp_path / "bad.json", b"[{"))
