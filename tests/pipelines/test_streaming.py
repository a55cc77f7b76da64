"""Large files are read block by block: the blocks together equal the whole file read at once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from pipelines.reader import ROW, UnreadableFile, read_file
from pipelines.streaming import read_batches

BLOCK = 1000  # bytes: every fixture below spans many blocks


def _messy_csv(rows: int = 600) -> str:
    lines = ["id,note,value"]
    for i in range(1, rows):
        if i % 7 == 0:
            lines.append(f'r{i},"two\nlines, and ""quotes""",{i}')  # a record across a newline
        elif i % 11 == 0:
            lines.append(f"r{i},x,{i},one-too-many")
        elif i % 13 == 0:
            lines.append(f"r{i},short")
        else:
            lines.append(f"r{i},plain,{i}")
    return "\n".join(lines) + "\n"


def _same_as_whole(path: Path) -> list[int]:
    whole = read_file(path)
    batches = list(read_batches(path, chunk_bytes=BLOCK))
    assert len(batches) > 1, "the fixture must span several blocks"
    assert pl.concat([b.frame for b in batches], how="diagonal_relaxed").equals(whole.frame)
    assert [m for b in batches for m in b.malformed] == whole.malformed
    assert {b.format for b in batches} == {whole.format}
    return [m[0] for m in whole.malformed]


@pytest.mark.parametrize("name", ["plain.csv", "zipped.csv.gz"])
def test_csv_blocks_cut_at_record_boundaries_outside_quotes(tmp_path: Path, name: str) -> None:
    data = _messy_csv().encode()
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    malformed = _same_as_whole(path)
    assert malformed and all(row % 11 == 0 or row % 13 == 0 for row in malformed)


def test_clean_csv_with_bom_and_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "clean.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(["id;v", *(f"r{i};{i},5" for i in range(400))]).encode() + b"\n")
    _same_as_whole(path)
    batches = list(read_batches(path, chunk_bytes=BLOCK))
    assert batches[-1].frame[ROW].to_list()[-1] == 400 and batches[-1].encoding == "utf-8+bom"


def test_legacy_encoding_blocks(tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes("\n".join(["id,note", *(f"r{i},café {i}" for i in range(300))]).encode("cp1252"))
    _same_as_whole(path)


def test_json_lines_blocks(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"r{i}", "v": i}) if i % 9 else "{broken" for i in range(1, 300)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert _same_as_whole(path) == [i for i in range(1, 300) if i % 9 == 0]


def test_parquet_by_record_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pipelines.streaming.PARQUET_BATCH_ROWS", 100)
    path = tmp_path / "p.parquet"
    pl.DataFrame({"id": [f"p{i}" for i in range(450)], "v": [i / 2 for i in range(450)]}).write_parquet(path)
    _same_as_whole(path)


def test_documents_without_record_boundaries_are_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_text(json.dumps([{"id": f"r{i}"} for i in range(200)], indent=1))
    (batch,) = read_batches(path, chunk_bytes=BLOCK)
    assert batch.format == "json" and batch.frame.height == 200


def test_corrupt_gzip_after_good_blocks_is_unreadable(tmp_path: Path) -> None:
    data = gzip.compress(_messy_csv(3000).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    batches = read_batches(path, chunk_bytes=BLOCK)
    assert next(batches).frame.height > 0
    with pytest.raises(UnreadableFile, match="corrupt gzip"):
        list(batches)
