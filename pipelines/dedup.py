"""Deduplicate by record key across sources and runs, in bounded memory.

Each row carries its order columns (``__run`` 0 for rows already in the output, 1 for this run's;
``__source``, ``__file``, ``__row``): the latest event time wins, and on equal event times the row
read later wins. Rows stay in memory while they are few; past ``memory_rows`` every frame goes to a
scratch Parquet file with its rows sorted by a hash bucket of the key, and the merge then reads
one range of buckets at a time (row-group statistics let Parquet skip the rest), so peak memory is
about one partition whatever the input size. Either way the survivors come out ordered by bucket,
then key, so the output does not depend on which path was taken.

Usage::

    dedup = Deduplicator(scratch_dir, key="record_id", time="event_time")   # the contract's fields
    dedup.add(frame)                 # any number of times
    for survivors in dedup.partitions():
        ...                          # write them
    dedup.produced, dedup.kept       # this run's rows per source index, before and after
"""

from __future__ import annotations

import itertools
import math
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from pipelines.reader import ROW

ORDER = ("__run", "__source", "__file", ROW)
BUCKET = "__bucket"
BUCKETS = 1024
MEMORY_ROWS = 300_000
PARTITION_ROWS = 200_000


def bucket_of(key: pl.Expr) -> pl.Expr:
    """The hash bucket of a record key (the output is ordered by bucket, then key)."""
    return (key.hash(seed=0) % BUCKETS).cast(pl.UInt16)


def _this_runs_rows_by_source(frame: pl.DataFrame) -> dict[int, int]:
    counts = frame.filter(pl.col("__run") == 1)["__source"].value_counts()
    return dict(zip(counts["__source"].to_list(), counts["count"].to_list(), strict=True))


class Deduplicator:
    def __init__(
        self,
        scratch: Path,
        *,
        key: str,
        time: str,
        memory_rows: int | None = None,
        partition_rows: int | None = None,
    ) -> None:
        self.scratch = scratch
        self.key, self.time = key, time
        self.memory_rows = memory_rows or MEMORY_ROWS
        self.partition_rows = partition_rows or PARTITION_ROWS
        self.buffered: list[pl.DataFrame] = []
        self.buffered_rows = 0
        self.spilled: list[Path] = []
        self.rows = 0
        self.produced: Counter[int] = Counter()
        self.kept: Counter[int] = Counter()

    def add(self, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        self.produced.update(_this_runs_rows_by_source(frame))
        self.buffered.append(frame.with_columns(bucket_of(pl.col(self.key)).alias(BUCKET)))
        self.buffered_rows += frame.height
        self.rows += frame.height
        if self.buffered_rows > self.memory_rows:
            self._spill()

    def _spill(self) -> None:
        frame = pl.concat(self.buffered, how="diagonal_relaxed").sort(BUCKET)
        self.buffered, self.buffered_rows = [], 0
        self.scratch.mkdir(parents=True, exist_ok=True)
        path = self.scratch / f"spill-{len(self.spilled):05d}.parquet"
        # small row groups, so that a range of buckets reads little more than its own rows
        frame.write_parquet(path, compression="uncompressed", row_group_size=max(4096, frame.height // 64))
        self.spilled.append(path)

    def partitions(self) -> Iterator[pl.DataFrame]:
        """The survivors, one partition (a range of buckets) at a time, ordered by bucket then key."""
        if not self.spilled:
            if self.buffered:
                yield self._survivors(pl.concat(self.buffered, how="diagonal_relaxed"))
            return
        if self.buffered:
            self._spill()
        count = min(BUCKETS, math.ceil(self.rows / self.partition_rows))
        bounds = [BUCKETS * i // count for i in range(count + 1)]
        try:
            for low, high in itertools.pairwise(bounds):
                wanted = pl.col(BUCKET).is_between(low, high - 1)
                rows = pl.scan_parquet(self.spilled, low_memory=True).filter(wanted).collect()
                if rows.height:
                    yield self._survivors(rows)
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _survivors(self, rows: pl.DataFrame) -> pl.DataFrame:
        # sort only the ordering columns, then gather the winners once (not the whole frame twice)
        order = rows.select(BUCKET, self.key, self.time, *ORDER).with_row_index("__position")
        order = order.sort([BUCKET, self.key, self.time, *ORDER])  # nulls first: an untimed row loses to a timed one
        last_of_key = pl.col(self.key).ne_missing(pl.col(self.key).shift(-1))
        winners = rows[order.filter(last_of_key)["__position"]]
        self.kept.update(_this_runs_rows_by_source(winners))
        return winners
