"""Regenerate the messy sample data (`python pipelines/samples/make_samples.py`); output is committed.

Every kind of mess the pipeline must survive, from the bundled WDBC records: a BOM, a gzip file with
semicolons, renamed columns and Windows-1252 text, JSON Lines with a broken line, a Parquet file, a
file with no event_time column, JSON Lines behind a .txt extension, thousands separators, "N/A",
text in numeric fields, out-of-range values, missing fields, and duplicates within and across files.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import polars as pl
from sklearn.datasets import load_breast_cancer

from slipway.contract import load_contract

HERE = Path(__file__).parent / "incoming"
CONTRACT = load_contract("wdbc")
FEATURE_NAMES = CONTRACT.input_names
LABEL = CONTRACT.label.field


def _named(index: int) -> str:
    """The contract's name of the feature at ``index`` in model input order (no spelling in code)."""
    return FEATURE_NAMES[index]


def records() -> list[dict[str, object]]:
    data = load_breast_cancer()
    out = []
    for i, (row, target) in enumerate(zip(data.data, data.target, strict=True)):
        out.append(
            {
                "record_id": f"wdbc-{i:04d}",
                **dict(zip(FEATURE_NAMES, row.round(5).tolist(), strict=True)),
                LABEL: CONTRACT.classes[int(target)],  # scikit-learn's target indexes the contract's classes
            }
        )
    return out


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    rows = records()
    dataset_names = [str(n) for n in load_breast_cancer().feature_names]
    # 1. clinic A: BOM, canonical names, dirty values, a duplicate with a later event time
    a = [dict(r, event_time=f"2026-11-01T08:{i % 60:02d}:00Z") for i, r in enumerate(rows[:120])]
    a[3][_named(0)] = "N/A"
    a[4][_named(1)] = "abc"
    a[5][_named(3)] = "1,001.5"
    a[6][_named(20)] = -4
    a[7][_named(4)] = ""
    a.append(dict(rows[10], event_time="2026-11-01T23:00:00Z", **{_named(0): 14.0}))  # newer duplicate of wdbc-0010
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["record_id", "event_time", *FEATURE_NAMES, LABEL])
    writer.writeheader()
    writer.writerows(a)
    (HERE / "2026-11-01-clinic-a.csv").write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode())
    # 2. clinic B: gzip, semicolons, the dataset's own column names, cp1252 notes, time offsets
    b = rows[100:220]
    buffer = io.StringIO()
    semicolons = csv.writer(buffer, delimiter=";")
    semicolons.writerow(["record_id", "event_time", *dataset_names, LABEL, "notes"])
    for i, r in enumerate(b):
        note = "café review" if i % 7 == 0 else ""
        time = f"2026-11-02T09:{i % 60:02d}:00+01:00"
        semicolons.writerow([r["record_id"], time, *[r[n] for n in FEATURE_NAMES], r[LABEL], note])
    (HERE / "2026-11-02-clinic-b.csv.gz").write_bytes(gzip.compress(buffer.getvalue().encode("cp1252"), mtime=0))
    # 3. lab: JSON Lines with a broken line, a missing field and a new column
    lines = []
    for i, r in enumerate(rows[220:300]):
        record = dict(r, event_time=f"2026-11-03T10:{i % 60:02d}:00.250Z", lab="central")
        if i == 5:
            del record[_named(28)]
        lines.append(json.dumps(record))
    lines.insert(10, f'{{"record_id": "wdbc-broken", "{_named(0)}": 12.1,')  # truncated write
    (HERE / "2026-11-03-lab.jsonl").write_text("\n".join(lines) + "\n")
    # 4. export: Parquet, typed
    export = [dict(r, event_time="2026-11-04T00:00:00Z") for r in rows[300:400]]
    pl.DataFrame(export).write_parquet(HERE / "2026-11-04-export.parquet")
    # 5. legacy: no event_time column at all -> the whole batch is quarantined
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["record_id", *FEATURE_NAMES])
    writer.writeheader()
    writer.writerows({k: v for k, v in r.items() if k != LABEL} for r in rows[400:420])
    (HERE / "2026-11-05-legacy.csv").write_text(buffer.getvalue())
    # 6. JSON Lines behind a .txt extension (format decided by content), re-sending older records
    resend = [json.dumps(dict(r, event_time="2026-10-01T00:00:00Z")) for r in rows[0:30]]
    (HERE / "2026-11-06-resend.txt").write_text("\n".join(resend) + "\n")


if __name__ == "__main__":
    main()
