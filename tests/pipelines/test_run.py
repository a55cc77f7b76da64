"""Whole runs: every row accounted for, deduplication rules, checkpoints, encryption, exit codes."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from cryptography.fernet import Fernet

from pipelines.config import load_config
from pipelines.dedup import bucket_of
from pipelines.run import run_pipeline
from slipway.errors import UsageError
from slipway.signing import KeyStore
from tests.conftest import PROJECT_DIR, SLIPWAY
from tests.wdbc import FEATURE_NAMES

SAMPLES = PROJECT_DIR / "pipelines" / "samples"


def _config(tmp_path: Path, sources: list[dict[str, Any]]) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({"sources": sources}))
    return path


def _csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = ["record_id", "event_time", *FEATURE_NAMES]
    lines = [",".join(columns)]
    for row in rows:
        full = {"event_time": "2026-01-01T00:00:00Z", **dict.fromkeys(FEATURE_NAMES, 0.5), **row}
        lines.append(",".join(str(full[c]) for c in columns))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def test_the_messy_samples_are_fully_accounted_for(keys: KeyStore, tmp_path: Path) -> None:
    report = run_pipeline(load_config(SAMPLES / "pipeline.yaml"), tmp_path / "out")
    clinics = report["sources"]["clinics"]
    assert (clinics["rows_in"], clinics["rows_out"], clinics["quarantined"], clinics["duplicates"]) == (
        472,
        399,
        26,
        47,
    )
    assert clinics["rows_in"] == clinics["rows_out"] + clinics["quarantined"] + clinics["duplicates"]
    assert report["sources"]["partner-share"]["status"] == "stale"
    assert report["exit_code"] == 3 and report["totals"]["status"] == "stale"
    changes = {c["file"]: c for c in clinics["schema_changes"]}
    assert changes["2026-11-02-clinic-b.csv.gz"]["new_columns"] == ["notes"]
    assert changes["2026-11-05-legacy.csv"]["missing_columns"] == ["event_time"]
    data = pl.read_parquet(tmp_path / "out" / "data" / "records.parquet")
    assert data.height == 399 == data["record_id"].n_unique()
    # a stable output order that does not need the whole output in memory: hash bucket, then key
    assert data.equals(data.sort(bucket_of(pl.col("record_id")), "record_id"))
    assert json.loads((tmp_path / "out" / "reports" / "latest.json").read_text()) == report


def test_quarantine_keeps_position_reason_and_encrypted_raw_values(keys: KeyStore, tmp_path: Path) -> None:
    _csv(tmp_path / "in" / "a.csv", [{"record_id": "good"}, {"record_id": "bad", "mean_radius": "secret-7781"}])
    run_pipeline(load_config(_config(tmp_path, [{"name": "s", "kind": "files", "path": "in"}])), tmp_path / "out")
    (quarantine,) = (tmp_path / "out" / "quarantine" / "s").glob("*.parquet")
    blob = quarantine.with_suffix(".raw")
    assert b"secret-7781" not in quarantine.read_bytes() + blob.read_bytes()
    row = pl.read_parquet(quarantine).row(0, named=True)
    assert (row["file"].endswith("a.csv"), row["row"], row["category"]) == (True, 2, "bad_type")
    raw = pl.read_parquet(io.BytesIO(Fernet(keys.data_key_path.read_bytes()).decrypt(blob.read_bytes())))
    (values,) = raw.to_dicts()
    assert values["__row"] == 2 and values["record_id"] == "bad" and values["mean_radius"] == "secret-7781"


def test_latest_event_wins_ties_go_to_the_row_read_later_and_invalid_rows_never_displace(
    keys: KeyStore, tmp_path: Path
) -> None:
    _csv(
        tmp_path / "a" / "1.csv",
        [
            {"record_id": "k1", "event_time": "2026-01-02T00:00:00Z", "mean_radius": 1.0},
            {"record_id": "k2", "event_time": "2026-01-01T00:00:00Z", "mean_radius": 1.0},
            {"record_id": "k3", "event_time": "2026-01-01T00:00:00Z", "mean_radius": 1.0},
        ],
    )
    _csv(
        tmp_path / "b" / "1.csv",
        [
            {"record_id": "k1", "event_time": "2026-01-01T00:00:00Z", "mean_radius": 2.0},  # older: loses
            {"record_id": "k2", "event_time": "2026-01-01T00:00:00Z", "mean_radius": 2.0},  # tie: read later, wins
            {"record_id": "k3", "event_time": "2026-01-09T00:00:00Z", "mean_radius": -5},  # newer but invalid
        ],
    )
    config = _config(
        tmp_path, [{"name": "a", "kind": "files", "path": "a"}, {"name": "b", "kind": "files", "path": "b"}]
    )
    report = run_pipeline(load_config(config), tmp_path / "out")
    data = {r["record_id"]: r["mean_radius"] for r in pl.read_parquet(tmp_path / "out/data/records.parquet").to_dicts()}
    assert data == {"k1": 1.0, "k2": 2.0, "k3": 1.0}
    assert report["sources"]["a"] | {"schema_changes": []} == report["sources"]["a"]
    assert (report["sources"]["a"]["rows_out"], report["sources"]["a"]["duplicates"]) == (2, 1)
    assert (
        report["sources"]["b"]["rows_out"],
        report["sources"]["b"]["duplicates"],
        report["sources"]["b"]["quarantined"],
    ) == (1, 1, 1)


def test_deduplication_spans_runs_and_checkpoints_skip_seen_files(keys: KeyStore, tmp_path: Path) -> None:
    _csv(tmp_path / "in" / "1.csv", [{"record_id": "k1", "event_time": "2026-01-01T00:00:00Z", "mean_radius": 1.0}])
    config = load_config(_config(tmp_path, [{"name": "s", "kind": "files", "path": "in"}]))
    run_pipeline(config, tmp_path / "out")
    again = run_pipeline(config, tmp_path / "out")
    assert again["sources"]["s"]["files_skipped"] == 1 and again["totals"]["rows_in"] == 0
    _csv(tmp_path / "in" / "2.csv", [{"record_id": "k1", "event_time": "2025-12-31T00:00:00Z", "mean_radius": 9.0}])
    third = run_pipeline(config, tmp_path / "out")
    assert third["sources"]["s"]["duplicates"] == 1  # an older version from a later run loses
    data = pl.read_parquet(tmp_path / "out/data/records.parquet")
    assert data["mean_radius"].to_list() == [1.0]


def test_the_cli_reports_and_exits_with_the_documented_codes(keys: KeyStore, tmp_path: Path) -> None:
    _csv(tmp_path / "in" / "1.csv", [{"record_id": "k1"}])
    env = {**os.environ}
    ok = subprocess.run(
        [
            SLIPWAY,
            "pipeline",
            "run",
            "--config",
            str(_config(tmp_path, [{"name": "s", "kind": "files", "path": "in"}])),
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["totals"]["rows_out"] == 1
    for source, message in (
        ({"name": "Bad Name", "kind": "files", "path": "in"}, "sources.0.name"),
        ({"name": "s", "kind": "files"}, "a files source needs path"),
    ):
        result = subprocess.run(
            [SLIPWAY, "pipeline", "run", "--config", str(_config(tmp_path, [source]))],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_without_a_data_key_nothing_is_written(tmp_path: Path) -> None:
    _csv(tmp_path / "in" / "1.csv", [{"record_id": "k1"}])
    config = load_config(_config(tmp_path, [{"name": "s", "kind": "files", "path": "in"}]))
    with pytest.raises(UsageError, match="run `slipway keys generate`"):
        run_pipeline(config, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_samples_are_reproducible(tmp_path: Path) -> None:
    """The committed sample files are what make_samples.py writes."""
    copy = tmp_path / "samples"
    shutil.copytree(SAMPLES, copy, ignore=shutil.ignore_patterns("incoming"))
    subprocess.run([sys.executable, str(copy / "make_samples.py")], check=True, cwd=PROJECT_DIR)
    for path in sorted((copy / "incoming").iterdir()):
        if path.suffix == ".parquet":
            assert pl.read_parquet(path).equals(pl.read_parquet(SAMPLES / "incoming" / path.name)), path.name
        else:
            assert path.read_bytes() == (SAMPLES / "incoming" / path.name).read_bytes(), path.name


def test_metrics_are_written_for_the_scraper(keys: KeyStore, tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    report = run_pipeline(load_config(SAMPLES / "pipeline.yaml"), tmp_path / "out")
    text = (tmp_path / "out" / "metrics" / "pipeline.prom").read_text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("slipway_pipeline_rows", (("outcome", "quarantined"), ("source", "clinics")))] == 26
    assert samples[("slipway_pipeline_source_up", (("source", "partner-share"),))] == 0
    assert samples[("slipway_pipeline_source_up", (("source", "clinics"),))] == 1
    assert samples[("slipway_pipeline_schema_changes", (("source", "clinics"),))] == 3
    assert ("slipway_pipeline_source_last_success_timestamp_seconds", (("source", "partner-share"),)) not in samples
    assert samples[("slipway_pipeline_run_duration_seconds", ())] > 0
    assert report["exit_code"] == 3


def test_replay_reprocesses_quarantine_after_the_contract_is_fixed(keys: KeyStore, tmp_path: Path) -> None:
    from slipway.contract import CONTRACTS

    contract = tmp_path / "wdbc.yaml"
    original = (CONTRACTS / "wdbc.yaml").read_text(encoding="utf-8")
    contract.write_text(original, encoding="utf-8")
    _csv(
        tmp_path / "in" / "1.csv", [{"record_id": "big", "mean_radius": 75.0}, {"record_id": "bad", "mean_radius": "x"}]
    )
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({"contract": "wdbc.yaml", "sources": [{"name": "s", "kind": "files", "path": "in"}]}))
    first = run_pipeline(load_config(path), tmp_path / "out")
    assert first["sources"]["s"]["quarantined"] == 2
    # the contract file is fixed: radii up to 100 are plausible after all
    fixed = original.replace(
        "range: [0, 60]\n    aliases: ['mean radius'", "range: [0, 100]\n    aliases: ['mean radius'"
    )
    assert fixed != original
    contract.write_text(fixed, encoding="utf-8")
    from pipelines.run import replay_quarantine

    replay = replay_quarantine(load_config(path), tmp_path / "out")
    source = replay["sources"]["s"]
    assert (source["rows_in"], source["rows_out"], source["quarantined"], source["duplicates"]) == (2, 1, 1, 0)
    data = pl.read_parquet(tmp_path / "out/data/records.parquet")
    assert data.filter(pl.col("record_id") == "big")["mean_radius"].to_list() == [75.0]
    (remaining,) = (tmp_path / "out" / "quarantine" / "s").glob("*.parquet")
    assert pl.read_parquet(remaining)["category"].to_list() == ["bad_type"]


def _quarantined(out: Path) -> list[tuple[object, ...]]:
    return sorted(row for path in (out / "quarantine").rglob("*.parquet") for row in pl.read_parquet(path).rows())


def test_small_blocks_and_spilled_merges_give_the_same_run(
    keys: KeyStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a 10-million-row run does (files in blocks, merge spilled to disk), on the messy samples,
    then a second run whose merge re-reads the first run's data."""
    shutil.copytree(SAMPLES, tmp_path / "samples")
    config = load_config(tmp_path / "samples" / "pipeline.yaml")
    later = tmp_path / "samples" / "incoming" / "2026-11-07-late.csv"

    def two_runs(out: Path) -> list[dict[str, Any]]:
        later.unlink(missing_ok=True)
        reports = [run_pipeline(config, out)]
        _csv(later, [{"record_id": "wdbc-0001", "event_time": "2027-01-01T00:00:00Z"}, {"record_id": "late-1"}])
        reports.append(run_pipeline(config, out))
        return [{name: {**s, "last_success": None} for name, s in r["sources"].items()} for r in reports]

    whole = two_runs(tmp_path / "whole")
    monkeypatch.setattr("pipelines.streaming.CHUNK_BYTES", 2048)
    monkeypatch.setattr("pipelines.dedup.MEMORY_ROWS", 60)
    monkeypatch.setattr("pipelines.dedup.PARTITION_ROWS", 50)
    streamed = two_runs(tmp_path / "streamed")
    assert streamed == whole
    assert whole[1]["clinics"]["rows_out"] == 2
    data = pl.read_parquet(tmp_path / "streamed/data/records.parquet")
    assert data.equals(pl.read_parquet(tmp_path / "whole/data/records.parquet"))
    assert _quarantined(tmp_path / "streamed") == _quarantined(tmp_path / "whole")
    blocks = list((tmp_path / "streamed/quarantine/clinics").glob("*-*.parquet"))
    assert blocks, "the samples must span several blocks for this test to mean anything"
    assert not (tmp_path / "streamed" / ".scratch").exists()
