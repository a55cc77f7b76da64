"""The contract on a batch: renames, lossless coercion, validation categories, UTC times."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from pipelines import transform
from pipelines.reader import ROW
from pipelines.transform import apply_contract
from tests.wdbc import FEATURE_NAMES, WDBC


def _frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    base = {"record_id": "r", "event_time": "2026-01-01T00:00:00Z", **dict.fromkeys(FEATURE_NAMES, "0.5")}
    records = [{**base, **row} for row in rows]
    frame = pl.DataFrame([{k: (None if v is None else str(v)) for k, v in r.items()} for r in records])
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def test_lossless_coercions_pass_and_lossy_ones_quarantine() -> None:
    result = apply_contract(
        _frame(
            [
                {"record_id": "ok1", "mean_area": "1,234.5"},
                {"record_id": "ok2", "mean_radius": " 12.5 "},
                {"record_id": "na", "mean_radius": "N/A"},
                {"record_id": "empty", "mean_radius": ""},
                {"record_id": "text", "mean_radius": "twelve"},
                {"record_id": "euro", "mean_radius": "12,5"},
                {"record_id": "range", "mean_radius": "-1"},
            ]
        ),
        WDBC,
    )
    assert result.valid["record_id"].to_list() == ["ok1", "ok2"]
    assert result.valid["mean_area"].to_list() == [1234.5, 0.5]
    categories = dict(zip(result.rejected[ROW].to_list(), result.rejected["category"].to_list(), strict=True))
    assert categories == {3: "missing_required", 4: "missing_required", 5: "bad_type", 6: "bad_type", 7: "out_of_range"}
    assert result.rejected.filter(pl.col(ROW) == 5)["mean_radius"].to_list() == ["twelve"]  # raw value kept


def test_offsets_are_normalised_to_utc() -> None:
    result = apply_contract(
        _frame(
            [
                {"record_id": "a", "event_time": "2026-03-01T10:00:00+02:00"},
                {"record_id": "b", "event_time": "2026-03-01T08:00:00Z"},
                {"record_id": "c", "event_time": "2026-03-01 08:00:00"},
                {"record_id": "d", "event_time": "yesterday"},
            ]
        ),
        WDBC,
    )
    times = result.valid["event_time"].dt.to_string("%Y-%m-%dT%H:%M:%S%z").to_list()
    assert times == ["2026-03-01T08:00:00+0000"] * 3
    assert result.rejected["reason"].to_list() == ["bad_type:event_time"]


def test_renamed_new_and_missing_columns() -> None:
    frame = _frame([{}]).rename({"mean_radius": "mean radius"}).with_columns(pl.lit("x").alias("extra"))
    result = apply_contract(frame, WDBC)
    assert result.renamed == {"mean radius": "mean_radius"}
    assert result.new_columns == ["extra"]
    assert result.valid.height == 1
    missing = apply_contract(_frame([{}, {}]).drop("event_time"), WDBC)
    assert missing.missing_columns == ["event_time"]
    assert missing.rejected["category"].to_list() == ["missing_required_column"] * 2
    assert missing.valid.height == 0


def test_labels_are_validated_when_present() -> None:
    result = apply_contract(_frame([{"diagnosis": "Benign"}, {"diagnosis": "maybe"}]), WDBC)
    assert result.valid["diagnosis"].to_list() == ["benign"]
    assert result.rejected["reason"].to_list() == ["bad_type:diagnosis"]


def test_plain_cast_shortcut_gives_what_the_careful_path_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    tricky = [
        {"record_id": "t-nan", "mean_radius": "nan"},
        {"record_id": "t-inf", "mean_radius": "inf"},
        {"record_id": "t-padded", "mean_radius": " 12.5 "},
        {"record_id": "t-sci", "mean_radius": "1.25e1"},
        {"record_id": "t-dot", "mean_radius": "12."},
        {"record_id": "t-thousands", "mean_area": "1,234.5"},
        {"record_id": "t-offset", "event_time": "2026-03-01T10:00:00+02:00"},
        {"record_id": "t-date", "event_time": "2026-03-01"},
        {"record_id": "t-spaced-time", "event_time": " 2026-03-01T08:00:00Z "},
        {"record_id": " key "},
        {"record_id": "N/A"},
    ]
    frame = _frame([row for index, extra in enumerate(tricky) for row in ({"record_id": f"plain{index}"}, extra)])
    shortcut = apply_contract(frame, WDBC)
    monkeypatch.setattr(transform, "_likely_time_format", lambda values: None)  # every row takes the careful path
    careful = apply_contract(frame, WDBC)
    assert shortcut.valid.sort(ROW).equals(careful.valid.sort(ROW))
    assert shortcut.rejected.equals(careful.rejected)
    assert len(shortcut.valid) + len(shortcut.rejected) == len(frame)
    assert len(shortcut.rejected) == 3  # nan, inf, N/A key
