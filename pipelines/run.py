"""`slipway pipeline run`: read every source, apply the contract, deduplicate, write, account.

Output folder (DESIGN.md)::

    data/records.parquet              one row per surviving record key (canonical columns + provenance),
                                      ordered by key hash bucket, then key (see pipelines/dedup.py)
    quarantine/<source>/<file digest>[-<block>].parquet
                                      every rejected row: source, file, row, category, reason, raw
                                      (raw values Fernet-encrypted with $SLIPWAY_HOME/keys/data.key)
    state/<source>.json               checkpoint: fingerprints of the files already processed
    reports/<run-id>.json, reports/latest.json

Order of writes (each one atomic: temporary file, then rename): quarantine, data, checkpoints,
report. A run killed at any point leaves the previous data intact; the next run re-reads the files
whose checkpoint was not written and, because deduplication is idempotent and quarantine files are
content-addressed, ends with the same output as an uninterrupted run.

Usage::

    report = run_pipeline(load_config(Path("pipeline.yaml")), out=None)
"""

from __future__ import annotations

import datetime
import io
import json
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
from cryptography.fernet import Fernet
from prometheus_client import CollectorRegistry

from pipelines.config import PipelineConfig
from pipelines.dedup import Deduplicator
from pipelines.metrics import record_run
from pipelines.reader import ROW, Batch, UnreadableFile
from pipelines.sources import Resilience, SourceBroken, SourceDown, Unit, open_source
from pipelines.transform import apply_contract, column_types, output_columns
from slipway.audit import slipway_home
from slipway.contract import load_contract
from slipway.errors import UsageError
from slipway.metrics_publish import publish
from slipway.signing import KeyStore

DATA_FILE = "records.parquet"
TEMP_PREFIX = ".slipway-tmp-"  # a killed run can leave these; the next run removes them first
# Fault injection for the kill-and-resume test: SIGKILL this process at the Nth durability step.
_CRASH_AT = int(os.environ.get("SLIPWAY_PIPELINE_CRASH_AT", "0") or 0)
_steps = 0


def crash_point() -> None:
    """A point where a crash must leave recoverable output (counted; a no-op unless injecting faults)."""
    global _steps
    _steps += 1
    if _CRASH_AT and _steps == _CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)


PROVENANCE = ("_source", "_file", "_row")
SCRATCH = ".scratch"  # spilled rows of the running merge; removed at the end and by the next run
EXISTING_BATCH_ROWS = 131_072
EXIT_OK, EXIT_STALE, EXIT_FAILED = 0, 3, 4


@dataclass
class SourceReport:
    name: str
    rows_in: int = 0
    rows_out: int = 0
    quarantined: int = 0
    duplicates: int = 0
    status: str = "ok"
    schema_changes: list[dict[str, Any]] = field(default_factory=list)
    files_read: int = 0
    files_skipped: int = 0
    error: str | None = None
    last_success: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
            "status": self.status,
            "schema_changes": self.schema_changes,
            "files_read": self.files_read,
            "files_skipped": self.files_skipped,
        }
        if self.error:
            data["error"] = self.error
        if self.name != "totals":
            data["last_success"] = self.last_success
        return data


def _atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same directory, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{path.name}-", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        with temporary.open("rb") as stream:
            os.fsync(stream.fileno())
        crash_point()
        temporary.replace(path)
        crash_point()
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _atomic_write(path: Path, data: bytes) -> None:
    _atomic(path, lambda temporary: temporary.write_bytes(data))


def _atomic_parquet(frame: pl.DataFrame, path: Path) -> None:
    _atomic(path, frame.write_parquet)


def _data_key() -> bytes:
    path = KeyStore.default().data_key_path
    try:
        return path.read_bytes().strip()
    except OSError:
        raise UsageError(
            f"no data key at {path}: run `slipway keys generate` (quarantined rows are encrypted)"
        ) from None


class Pipeline:
    def __init__(
        self, config: PipelineConfig, out: Path | None, progress: Callable[[str, str], None] | None = None
    ) -> None:
        self.progress = progress or (lambda source, unit: None)
        self.config = config
        self.contract = load_contract(config.contract)
        self.columns = (*output_columns(self.contract), *PROVENANCE)
        self.out = out or config.out or slipway_home() / "pipeline"
        self.fernet = Fernet(_data_key())
        self.run_id = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]

    def _deduplicator(self) -> Deduplicator:
        return Deduplicator(self.out / SCRATCH, key=self.contract.key.field, time=self.contract.event_time.field)

    def _state(self, source: str) -> dict[str, Any]:
        path = self.out / "state" / f"{source}.json"
        if not path.exists():
            return {"seen": {}}
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        loaded.setdefault("seen", {})
        return loaded

    def _quarantine(self, source: str, file: str, fingerprint: str, chunk: int, rejected: pl.DataFrame) -> None:
        """Rejected rows of one block of a file: plaintext metadata (``.parquet``) + raw values as one
        encrypted blob (``.raw``)."""
        name = fingerprint[:24] if chunk == 0 else f"{fingerprint[:24]}-{chunk:05d}"
        target = self.out / "quarantine" / source / f"{name}.parquet"
        if target.exists():
            return  # content-addressed: the same input always quarantines the same rows
        raw_columns = [c for c in rejected.columns if c not in ("category", "reason")]
        buffer = io.BytesIO()
        rejected.select(raw_columns).write_parquet(buffer)
        _atomic_write(target.with_suffix(".raw"), self.fernet.encrypt(buffer.getvalue()))
        frame = pl.DataFrame(
            {
                "source": [source] * rejected.height,
                "file": [str(file)] * rejected.height,
                "row": rejected[ROW].to_list(),
                "category": rejected["category"].to_list(),
                "reason": rejected["reason"].to_list(),
            },
            schema={"source": pl.String, "file": pl.String, "row": pl.Int64, "category": pl.String,
                    "reason": pl.String},
        )  # fmt: skip
        _atomic_parquet(frame, target)  # written last: its presence means the quarantine is complete

    def quarantined_raw(self, metadata: Path) -> pl.DataFrame:
        """The decrypted raw values of a quarantine file (``__row`` + the original columns)."""
        return pl.read_parquet(io.BytesIO(self.fernet.decrypt(metadata.with_suffix(".raw").read_bytes())))

    def run(self) -> dict[str, Any]:
        started = datetime.datetime.now(datetime.UTC)
        self._clean_leftovers()
        reports = [SourceReport(s.name) for s in self.config.sources]
        dedup = self._deduplicator()
        states: dict[str, dict[str, Any]] = {}
        for index, (source, report) in enumerate(zip(self.config.sources, reports, strict=True)):
            state = self._state(source.name)
            states[source.name] = state
            settings = Resilience(
                attempts=source.attempts,
                timeout=source.timeout,
                cool_down=source.cool_down,
                initial_wait=source.backoff,
                max_wait=max(source.backoff * 16, source.backoff),
            )
            try:
                for unit_index, unit in enumerate(open_source(source, state, settings).units()):
                    if state["seen"].get(unit.key) == unit.fingerprint:
                        report.files_skipped += 1
                        continue
                    crash_point()
                    self.progress(source.name, unit.key)
                    self._read(source.name, index, unit_index, unit, report, dedup)
                    state["seen"][unit.key] = unit.fingerprint
                    report.files_read += 1
                state["last_success"] = started.isoformat(timespec="seconds")
            except SourceDown as exc:
                report.status, report.error = "stale", str(exc)
            except SourceBroken as exc:
                report.status, report.error = "failed", str(exc)
            report.last_success = state.get("last_success")
        self._write_data(dedup, reports)
        for name, state in states.items():
            _atomic_write(self.out / "state" / f"{name}.json", json.dumps(state, indent=2, sort_keys=True).encode())
        return self._report(started, reports)

    def _clean_leftovers(self) -> None:
        """Temporary files and scratch space of a run that was killed."""
        if self.out.exists():
            for leftover in self.out.rglob(f"{TEMP_PREFIX}*"):
                leftover.unlink()
            shutil.rmtree(self.out / SCRATCH, ignore_errors=True)

    def _read(
        self, source: str, index: int, unit_index: int, unit: Unit, report: SourceReport, dedup: Deduplicator
    ) -> None:
        """One unit, block by block: the contract per block, its rejects quarantined, its valid rows deduplicated."""
        change: dict[str, Any] = {"file": unit.key}
        renamed: dict[str, str] = {}
        new_columns: dict[str, None] = {}
        missing: dict[str, None] = {}
        chunk = 0
        try:
            for chunk, batch in enumerate(unit.batches()):
                change.setdefault("format", batch.format)
                change.setdefault("encoding", batch.encoding)
                result = apply_contract(batch.frame, self.contract)
                renamed.update(result.renamed)
                new_columns.update(dict.fromkeys(result.new_columns))
                missing.update(dict.fromkeys(result.missing_columns))
                rejected = pl.concat([result.rejected, _malformed(batch)], how="diagonal_relaxed").sort(ROW)
                report.rows_in += batch.frame.height + len(batch.malformed)
                report.quarantined += rejected.height
                if rejected.height:
                    self._quarantine(source, unit.key, unit.fingerprint, chunk, rejected)
                dedup.add(_this_run(result.valid, source, unit.key, index, unit_index))
        except UnreadableFile as exc:
            rejected = pl.DataFrame(
                {ROW: [0], "category": ["malformed_row"], "reason": [str(exc)]},
                schema={ROW: pl.Int64, "category": pl.String, "reason": pl.String},
            )
            report.rows_in += 1
            report.quarantined += 1
            self._quarantine(source, unit.key, unit.fingerprint, chunk + 1 if "format" in change else 0, rejected)
        for key, values in (
            ("renamed", renamed),
            ("new_columns", list(new_columns)),
            ("missing_columns", list(missing)),
        ):
            if values:
                change[key] = values  # new columns are kept aside (not in data/) and reported here
        if len(change) > 3:
            report.schema_changes.append(change)

    def _write_data(self, dedup: Deduplicator, reports: list[SourceReport]) -> None:
        """Merge this run's rows with the data already there; unchanged data is left alone."""
        target = self.out / "data" / DATA_FILE
        schema = self._output_frame().to_arrow().schema
        if target.exists():
            if not dedup.rows:
                return
            existing_schema = pq.read_schema(target).remove_metadata()
            if not existing_schema.equals(schema):
                raise UsageError(
                    f"{target} holds data of another contract than {self.contract.describe()}: "
                    "give this contract its own output folder (--out)"
                )
            for batch in pq.ParquetFile(target).iter_batches(batch_size=EXISTING_BATCH_ROWS):
                existing = pl.from_arrow(batch)
                assert isinstance(existing, pl.DataFrame)
                dedup.add(
                    existing.with_columns(
                        pl.lit(0).alias("__run"),
                        pl.lit(-1).alias("__source"),
                        pl.lit(0).alias("__file"),
                        pl.col("_row").alias(ROW),
                    )
                )

        def write(temporary: Path) -> None:
            # uncompressed: measured floats barely compress, and encoding is the merge's largest cost;
            # use_dictionary takes a list of columns (documented) though pyarrow's stubs say bool
            dictionary: Any = list(self._dictionary_columns())
            with pq.ParquetWriter(temporary, schema, compression="none", use_dictionary=dictionary) as writer:
                for survivors in dedup.partitions():
                    writer.write_table(survivors.select(self.columns).to_arrow().cast(schema))

        _atomic(target, write)
        for index, report in enumerate(reports):
            report.rows_out = dedup.kept[index]
            report.duplicates = dedup.produced[index] - dedup.kept[index]

    def _output_frame(self) -> pl.DataFrame:
        """An empty frame with the output's columns and types."""
        types = {**column_types(self.contract), "_source": pl.String(), "_file": pl.String(), "_row": pl.Int64()}
        return pl.DataFrame(schema=types).select(self.columns)

    def _dictionary_columns(self) -> tuple[str, ...]:
        """The columns with few distinct values: provenance, the label and categories."""
        categories = tuple(f.name for f in self.contract.features if f.type in ("category", "bool"))
        return ("_source", "_file", self.contract.label.field, *categories)

    def replay(self) -> dict[str, Any]:
        """Re-apply the (fixed) contract to quarantined rows; rows that now pass join the data.

        Malformed rows (unparseable lines) cannot be fixed by a contract change and stay. Each
        quarantine file is rewritten with what still fails (removed when nothing does).
        """
        started = datetime.datetime.now(datetime.UTC)
        names = [s.name for s in self.config.sources]
        reports = {name: SourceReport(name) for name in names}
        dedup = self._deduplicator()
        for index, name in enumerate(names):
            for unit_index, path in enumerate(sorted((self.out / "quarantine" / name).glob("*.parquet"))):
                stored = pl.read_parquet(path)
                fixable = stored.filter(pl.col("category") != "malformed_row")
                if fixable.height == 0:
                    continue
                raw = self.quarantined_raw(path)
                frame = raw.filter(pl.col(ROW).is_in(fixable["row"].to_list()))
                if "line" in frame.columns:
                    frame = frame.drop("line")
                result = apply_contract(frame, self.contract)
                report = reports[name]
                report.rows_in += fixable.height
                report.quarantined += result.rejected.height
                passed = set(result.valid[ROW].to_list())
                remaining = stored.filter(~pl.col("row").is_in(list(passed)) | (pl.col("category") == "malformed_row"))
                if remaining.height:
                    still = raw.filter(pl.col(ROW).is_in(remaining["row"].to_list()))
                    buffer = io.BytesIO()
                    still.write_parquet(buffer)
                    _atomic_write(path.with_suffix(".raw"), self.fernet.encrypt(buffer.getvalue()))
                    _atomic_parquet(remaining, path)
                else:
                    path.unlink()
                    path.with_suffix(".raw").unlink()
                if result.valid.height:
                    file_name = str(stored["file"][0])
                    dedup.add(_this_run(result.valid, name, Path(file_name).name, index, unit_index))
        ordered = [reports[n] for n in names]
        self._write_data(dedup, ordered)
        self.run_id += "-replay"
        return self._report(started, ordered)

    def _report(self, started: datetime.datetime, reports: list[SourceReport]) -> dict[str, Any]:
        totals = SourceReport("totals")
        for report in reports:
            if report.rows_in != report.rows_out + report.quarantined + report.duplicates:
                raise AssertionError(f"accounting broken for {report.name}: {report.as_dict()}")
            totals.rows_in += report.rows_in
            totals.rows_out += report.rows_out
            totals.quarantined += report.quarantined
            totals.duplicates += report.duplicates
            totals.files_read += report.files_read
            totals.files_skipped += report.files_skipped
            totals.schema_changes.extend({"source": report.name, **c} for c in report.schema_changes)
        statuses = {r.status for r in reports}
        # a failed source needs a person (dominates); a stale one catches up on the next run
        totals.status = "failed" if "failed" in statuses else ("stale" if "stale" in statuses else "ok")
        exit_code = {"ok": EXIT_OK, "stale": EXIT_STALE, "failed": EXIT_FAILED}[totals.status]
        document = {
            "run_id": self.run_id,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "exit_code": exit_code,
            "totals": totals.as_dict(),
            "sources": {r.name: r.as_dict() for r in reports},
            "contract": self.contract.summary(),
            "out": str(self.out),
        }
        encoded = json.dumps(document, indent=2).encode()
        _atomic_write(self.out / "reports" / f"{self.run_id}.json", encoded)
        _atomic_write(self.out / "reports" / "latest.json", encoded)
        registry = CollectorRegistry()
        record_run(registry, document, (datetime.datetime.now(datetime.UTC) - started).total_seconds())
        publish(registry, self.out / "metrics" / "pipeline.prom", job="slipway-pipeline")
        return document


def _this_run(valid: pl.DataFrame, source: str, file: str, index: int, unit_index: int) -> pl.DataFrame:
    """Valid rows of this run with their provenance and their place in the read order (for ties)."""
    return valid.with_columns(
        pl.lit(source).alias("_source"),
        pl.lit(file).alias("_file"),
        pl.col(ROW).alias("_row"),
        pl.lit(1).alias("__run"),
        pl.lit(index).alias("__source"),
        pl.lit(unit_index).alias("__file"),
    )


def _malformed(batch: Batch) -> pl.DataFrame:
    """Rows that could not be parsed at all, as quarantine rows (their raw text in ``line``)."""
    return pl.DataFrame(
        {
            ROW: [row for row, _, _ in batch.malformed],
            "category": ["malformed_row"] * len(batch.malformed),
            "reason": [why for _, _, why in batch.malformed],
            "line": [line for _, line, _ in batch.malformed],
        },
        schema={ROW: pl.Int64, "category": pl.String, "reason": pl.String, "line": pl.String},
    )


def run_pipeline(
    config: PipelineConfig, out: Path | None = None, progress: Callable[[str, str], None] | None = None
) -> dict[str, Any]:
    return Pipeline(config, out, progress).run()


def replay_quarantine(config: PipelineConfig, out: Path | None = None) -> dict[str, Any]:
    return Pipeline(config, out).replay()
