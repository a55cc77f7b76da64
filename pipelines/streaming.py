"""Read a data file of any size as a sequence of batches, each of bounded size.

A file up to ``chunk_bytes`` (after decompression) is read whole by `read_plain`, every format
included. A larger one is streamed: Parquet by record batches; delimited text and JSON Lines in
blocks of about ``chunk_bytes`` cut at a record boundary (a newline outside double quotes), the
header line repeated in front of every block so that each block parses on its own. JSON arrays,
JSON envelopes and UTF-16 text have no boundary that can be found without parsing everything, so
they are read whole whatever their size. Row positions run on across blocks: a row's ``__row`` is
its 1-based position in the file, exactly as when the file is read in one go.

Usage::

    for batch in read_batches(Path("incoming/2026-11.csv.gz")):
        ...  # batch.frame, batch.malformed, with positions in the whole file
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, cast

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.reader import (
    GZIP_MAGIC,
    ROW,
    UTF8_BOM,
    UTF16_BOMS,
    Batch,
    UnreadableFile,
    as_text,
    delimited_batch,
    json_lines_batch,
    read_plain,
    sniff_delimiter,
)

CHUNK_BYTES = 16 << 20
PARQUET_BATCH_ROWS = 131_072


def read_batches(path: Path, chunk_bytes: int | None = None) -> Iterator[Batch]:
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise UnreadableFile(f"{path}: {exc.strerror}") from None
    with handle:
        magic = handle.read(4)
        handle.seek(0)
        if magic == b"PAR1":
            yield from _numbered(_parquet(path))
            return
        compressed = magic[:2] == GZIP_MAGIC
        stream: BinaryIO = gzip.GzipFile(fileobj=handle) if compressed else handle  # type: ignore[assignment]
        prefix = "gzip+" if compressed else ""
        blocks = _Blocks(stream, str(path), chunk_bytes)
        first = blocks.take(chunk_bytes)
        if blocks.eof or first.startswith(UTF16_BOMS) or _whole_document(first):
            yield read_plain(first + blocks.rest(), str(path), prefix)
            return
        yield from _numbered(_parse_blocks(blocks, first, prefix))


def _whole_document(head: bytes) -> bool:
    """A JSON array or an object spread over lines (not JSON Lines): only parseable in one piece."""
    start = _first_byte(head)
    if start == b"[":
        return True
    if start != b"{":
        return False
    first_line = head.removeprefix(UTF8_BOM).lstrip().split(b"\n", 1)[0]
    try:
        return not isinstance(json.loads(first_line), dict)
    except ValueError:
        return True


def _first_byte(head: bytes) -> bytes:
    """The first byte that is not a byte-order mark or white space (tells JSON from delimited text)."""
    return head.removeprefix(UTF8_BOM).lstrip()[:1]


def _parse_blocks(blocks: _Blocks, first: bytes, prefix: str) -> Iterator[Batch]:
    if _first_byte(first) == b"{":
        for block in _record_blocks(blocks, first, quoted=False):
            yield json_lines_batch(block, prefix)
        return
    delimiter = sniff_delimiter(first)
    header = first[: _first_record_end(first)]
    for number, block in enumerate(_record_blocks(blocks, first, quoted=True)):
        yield delimited_batch(block if number == 0 else header + block, prefix, delimiter)


def _record_blocks(blocks: _Blocks, first: bytes, *, quoted: bool) -> Iterator[bytes]:
    """Blocks of about ``blocks.size`` bytes, each ending with a whole record."""
    pending = first
    while pending:
        if not blocks.eof and len(pending) < blocks.size:
            pending += blocks.take(blocks.size - len(pending))
        cut = len(pending) if blocks.eof else _boundary(pending, quoted=quoted)
        if cut == len(pending) and not blocks.eof:
            pending += blocks.take(blocks.size)  # one record longer than a block: read on
            continue
        block, pending = pending[:cut], pending[cut:]
        if len(block) > 64 or block.strip():  # (strip() would copy a large block just to look at it)
            yield block


def _first_record_end(block: bytes) -> int:
    """The end of the header: the first newline outside double quotes."""
    position, odd = -1, 0
    while True:
        newline = block.find(b"\n", position + 1)
        if newline < 0:
            return len(block)
        odd ^= block.count(b'"', position + 1, newline) % 2
        position = newline
        if not odd:
            return newline + 1


def _boundary(block: bytes, *, quoted: bool) -> int:
    """Where to cut ``block`` so that it ends with whole records: after the last newline that is
    outside double quotes (the whole block at the end of the data)."""
    end = block.rfind(b"\n")
    if end < 0:
        return len(block)
    if not quoted:
        return end + 1
    odd = block.count(b'"', 0, end) % 2
    position = end
    while odd:
        previous = block.rfind(b"\n", 0, position)
        if previous < 0:
            return end + 1  # stray quotes and no clean boundary: cut at the last newline anyway
        odd ^= block.count(b'"', previous, position) % 2
        position = previous
    return position + 1


class _Blocks:
    """Bytes from a (possibly gzip) stream, with corrupt compressed data reported as unreadable."""

    def __init__(self, stream: BinaryIO, name: str, size: int) -> None:
        self.stream, self.name, self.size = stream, name, size
        self.eof = False

    def take(self, chunk_bytes: int) -> bytes:
        if self.eof or chunk_bytes <= 0:
            return b""
        try:
            data = self.stream.read(chunk_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            raise UnreadableFile(f"{self.name}: corrupt gzip data ({exc})") from None
        if len(data) < chunk_bytes:
            self.eof = True
        return data

    def rest(self) -> bytes:
        parts = []
        while not self.eof:
            parts.append(self.take(self.size))
        return b"".join(parts)


def _numbered(batches: Iterator[Batch]) -> Iterator[Batch]:
    """Row positions continued from one block to the next."""
    offset = 0
    for batch in batches:
        rows = batch.frame[ROW]
        last = max([cast(int, rows.max()) if rows.len() else 0, *(row for row, _, _ in batch.malformed)])
        if offset:
            batch.frame = batch.frame.with_columns(pl.col(ROW) + offset)
            batch.malformed = [(row + offset, line, why) for row, line, why in batch.malformed]
        offset += last
        yield batch


def _parquet(path: Path) -> Iterator[Batch]:
    """Record batches, each numbered from 1 (`_numbered` makes the positions run on)."""
    try:
        parquet = pq.ParquetFile(path)
        empty = True
        for record_batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            empty = False
            yield Batch(as_text(pl.from_arrow(pa.Table.from_batches([record_batch]))), "parquet", "binary")  # type: ignore[arg-type]
        if empty:
            yield Batch(as_text(pl.from_arrow(parquet.schema_arrow.empty_table())), "parquet", "binary")  # type: ignore[arg-type]
    except (OSError, pa.ArrowException) as exc:
        raise UnreadableFile(f"{path}: unreadable Parquet ({exc})") from None
