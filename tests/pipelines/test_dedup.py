"""Deduplication in bounded memory: spilling to disk and merging by bucket ranges changes nothing."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.dedup import Deduplicator
from pipelines.reader import ROW

EVENT_TIME, RECORD_KEY = "event_time", "record_id"


def _frames(seed: int = 3, frames: int = 6, rows: int = 500) -> list[pl.DataFrame]:
    rng = np.random.default_rng(seed)
    base = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    out = []
    for index in range(frames):
        keys = rng.integers(0, 1200, rows)  # many keys repeat, within and across frames
        out.append(
            pl.DataFrame(
                {
                    RECORD_KEY: [f"k{k:05d}" for k in keys],
                    EVENT_TIME: [base + datetime.timedelta(hours=int(h)) for h in rng.integers(0, 5, rows)],
                    "value": rng.random(rows),
                    "__run": [0 if index == 0 else 1] * rows,
                    "__source": [-1 if index == 0 else index % 2] * rows,
                    "__file": [0 if index == 0 else index] * rows,
                    ROW: list(range(1, rows + 1)),
                }
            ).with_columns(pl.col(EVENT_TIME).dt.cast_time_unit("us"))
        )
    return out


def _run(tmp_path: Path, memory_rows: int | None, partition_rows: int | None) -> tuple[pl.DataFrame, Deduplicator]:
    dedup = Deduplicator(
        tmp_path / "scratch", key=RECORD_KEY, time=EVENT_TIME, memory_rows=memory_rows, partition_rows=partition_rows
    )
    for frame in _frames():
        dedup.add(frame)
    survivors = pl.concat(list(dedup.partitions()))
    return survivors, dedup


def test_spilled_merge_equals_the_in_memory_merge(tmp_path: Path) -> None:
    in_memory, small = _run(tmp_path / "a", None, None)
    spilled, big = _run(tmp_path / "b", memory_rows=700, partition_rows=300)
    assert len(big.spilled) >= 3, "the test must exercise the spill path"
    assert spilled.equals(in_memory)
    assert (big.produced, big.kept) == (small.produced, small.kept)
    assert not (tmp_path / "b" / "scratch").exists(), "scratch files are removed after the merge"


def test_latest_event_time_wins_then_the_row_read_later(tmp_path: Path) -> None:
    survivors, _ = _run(tmp_path, memory_rows=700, partition_rows=300)
    everything = pl.concat(_frames())
    expected = (
        everything.sort([RECORD_KEY, EVENT_TIME, "__run", "__source", "__file", ROW])
        .group_by(RECORD_KEY, maintain_order=True)
        .last()
    )
    assert survivors.height == everything[RECORD_KEY].n_unique()
    got = survivors.select(expected.columns).sort(RECORD_KEY)
    assert got.equals(expected.sort(RECORD_KEY))


def test_counts_per_source_are_this_runs_rows_only(tmp_path: Path) -> None:
    survivors, dedup = _run(tmp_path, None, None)
    new = pl.concat(_frames()).filter(pl.col("__run") == 1)
    assert dict(dedup.produced) == dict(new["__source"].value_counts().iter_rows())
    kept = survivors.filter(pl.col("__run") == 1)["__source"].value_counts()
    assert dict(dedup.kept) == dict(kept.iter_rows())
