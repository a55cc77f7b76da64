"""The frozen evaluation set: labelled records no training run ever uses, pinned by a hash, so that
every model of a contract — the serving champion and each challenger — is measured on the same cases.

It is made once per contract (name and version), by the first `slipway train` or `slipway model
import` on that contract: a stratified 20 % of the labelled records given, chosen with the run's seed.
From then on every run sets aside every record whose content is in it (matched by a SHA-256 of the
record's values and label, so the same record in another file is recognised) and reports its
metrics on the whole frozen set. It only grows, and only by labels from the random audit sample
(``grow``: cases a person labelled that were drawn at random from automatic decisions, so the set
stays an unbiased picture of the traffic). Its digest — over the sorted record hashes — is on every
model card; a file whose content no longer matches its manifest is refused.

Layout under ``$SLIPWAY_HOME/evaluation/<contract>-v<version>/``: ``records.parquet`` (the model
inputs, the label and the record hash) and ``manifest.json`` (digest, rows, per-class counts and
the history of versions).

Usage::

    frozen, remaining = set_aside(contract, labelled, seed=7)
    frozen.digest, frozen.frame, frozen.labels
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from lifecycle.data import LabelledData
from slipway.contract import Contract
from slipway.errors import UsageError

SHARE = 0.2
HASH = "__record_sha256"
LABEL = "__label"
SOURCE = "__source"  # where each record came from (the first run's data, or an audit sample): a slice to check


class FrozenSetDamaged(UsageError):
    """The frozen evaluation set's records do not match the digest its manifest pins."""


def record_hashes(frame: pl.DataFrame, labels: np.ndarray[Any, Any]) -> list[str]:
    """One SHA-256 per record over its values (in contract order) and its label."""
    rows = frame.rows()
    return [hashlib.sha256(json.dumps([*row, str(label)], default=str).encode()).hexdigest()
            for row, label in zip(rows, labels.tolist(), strict=True)]  # fmt: skip


def _digest(hashes: list[str]) -> str:
    return "sha256:" + hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest()


@dataclass(frozen=True)
class FrozenSet:
    directory: Path
    frame: pl.DataFrame  # the model inputs, typed, in contract order
    labels: np.ndarray[Any, np.dtype[np.str_]]
    hashes: frozenset[str]
    manifest: dict[str, Any]
    sources: np.ndarray[Any, np.dtype[np.str_]]

    @property
    def digest(self) -> str:
        return str(self.manifest["digest"])

    @property
    def rows(self) -> int:
        return self.frame.height

    def summary(self) -> dict[str, Any]:
        """What a model card records of the set it was measured on."""
        return {key: self.manifest[key] for key in ("digest", "rows", "per_class", "version")}

    def labelled(self) -> LabelledData:
        return LabelledData(self.frame, self.labels, f"frozen:{self.digest}")


def directory_for(contract: Contract, home: Path | None = None) -> Path:
    from slipway.audit import slipway_home

    return (home or slipway_home()) / "evaluation" / f"{contract.name}-v{contract.version}"


def open_frozen(directory: Path, contract: Contract) -> FrozenSet | None:
    """The set in ``directory`` (its content checked against the manifest), or None when there is none."""
    manifest_path, records_path = directory / "manifest.json", directory / "records.parquet"
    if not manifest_path.exists():
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
        table = pl.read_parquet(records_path)
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise FrozenSetDamaged(f"frozen evaluation set {directory} cannot be read: {exc}") from None
    missing = [n for n in (*contract.input_names, LABEL, HASH) if n not in table.columns]
    if missing:
        raise FrozenSetDamaged(f"frozen evaluation set {directory} lacks column(s) {', '.join(missing)}")
    frame = table.select(contract.input_names)
    labels = np.asarray(table[LABEL].to_list(), dtype=np.str_)
    sources = np.asarray(table[SOURCE].to_list() if SOURCE in table.columns else ["unknown"] * table.height,
                         dtype=np.str_)  # fmt: skip
    hashes = record_hashes(frame, labels)
    if hashes != table[HASH].to_list() or _digest(hashes) != manifest.get("digest"):
        raise FrozenSetDamaged(
            f"frozen evaluation set {directory}: its records do not match the digest {manifest.get('digest')} "
            "its manifest pins (changed by hand?): restore it from a backup; models are only comparable on the same set"
        )
    return FrozenSet(directory, frame, labels, frozenset(hashes), manifest, sources)


def _write(directory: Path, contract: Contract, frame: pl.DataFrame, labels: np.ndarray[Any, Any],
           sources: np.ndarray[Any, Any], history: list[dict[str, Any]], source: str) -> FrozenSet:  # fmt: skip
    hashes = record_hashes(frame, labels)
    digest = _digest(hashes)
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    manifest = {
        "contract": contract.summary(),
        "digest": digest,
        "rows": frame.height,
        "per_class": dict(sorted(Counter(labels.tolist()).items())),
        "version": len(history) + 1,
        "history": [*history, {"version": len(history) + 1, "digest": digest, "rows": frame.height,
                               "source": source, "time": now}],
    }  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    table = frame.with_columns(pl.Series(LABEL, labels.tolist(), dtype=pl.String), pl.Series(HASH, hashes),
                               pl.Series(SOURCE, sources.tolist(), dtype=pl.String))  # fmt: skip
    for name, write in (("records.parquet", lambda p: table.write_parquet(p)),
                        ("manifest.json", lambda p: p.write_text(json.dumps(manifest, indent=2) + "\n"))):  # fmt: skip
        partial = directory / f".{name}.partial"
        write(partial)
        partial.replace(directory / name)  # records first, manifest last: a crash leaves the old pair or a refusal
    return FrozenSet(directory, frame, np.asarray(labels, dtype=np.str_), frozenset(hashes), manifest,
                     np.asarray(sources, dtype=np.str_))  # fmt: skip


def set_aside(
    contract: Contract, labelled: LabelledData, *, seed: int, directory: Path | None = None, minimum_per_class: int = 2
) -> tuple[FrozenSet, LabelledData]:
    """The contract's frozen set (made from ``labelled`` when there is none yet) and the records of
    ``labelled`` that are not in it (the only ones a run may fit or calibrate on)."""
    from sklearn.model_selection import train_test_split

    directory = directory or directory_for(contract)
    frozen = open_frozen(directory, contract)
    hashes = record_hashes(labelled.frame, labelled.labels)
    if frozen is None:
        index = np.arange(labelled.rows)
        _, chosen = train_test_split(index, test_size=SHARE, stratify=labelled.labels, random_state=seed)
        chosen = np.sort(chosen)
        frame, labels = labelled.subset(chosen)
        short = {c: int(np.sum(labels == c)) for c in contract.classes if np.sum(labels == c) < minimum_per_class}
        if short:
            raise UsageError(f"{labelled.source}: too few records of {', '.join(short)} to set a frozen evaluation "
                             f"set aside ({short}); give more labelled records")  # fmt: skip
        sources = np.full(len(labels), labelled.source, dtype=object)
        frozen = _write(directory, contract, frame, labels, sources, [], labelled.source)
    keep = np.asarray([h not in frozen.hashes for h in hashes], dtype=bool)
    remaining = LabelledData(labelled.frame.filter(pl.Series(keep)), labelled.labels[keep], labelled.source,
                             labelled.rejected, labelled.reasons)  # fmt: skip
    return frozen, remaining


def grow(frozen: FrozenSet, contract: Contract, audited: LabelledData) -> FrozenSet:
    """A new version with the audit-sample labels not in it yet (the only way the set grows)."""
    hashes = record_hashes(audited.frame, audited.labels)
    new = np.asarray([h not in frozen.hashes for h in hashes], dtype=bool)
    if not new.any():
        return frozen
    frame = pl.concat([frozen.frame, audited.frame.filter(pl.Series(new))], how="vertical_relaxed")
    labels = np.concatenate([frozen.labels, audited.labels[new]])
    sources = np.concatenate([frozen.sources.astype(object), np.full(int(new.sum()), audited.source, dtype=object)])
    return _write(frozen.directory, contract, frame, labels, sources, frozen.manifest["history"], audited.source)
