"""The frozen evaluation set: made once, set aside from every run, pinned by its digest, grown only
by audit labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner

from lifecycle.data import LabelledData, load_labelled
from lifecycle.frozen import FrozenSetDamaged, grow, open_frozen, record_hashes, set_aside
from slipway.signing import KeyStore
from tests.wdbc import WDBC


def _shuffled(data: LabelledData, seed: int) -> LabelledData:
    order = np.random.default_rng(seed).permutation(data.rows)
    return LabelledData(data.frame[order], data.labels[order], "shuffled")


def test_set_aside_once_then_the_same_records_whatever_the_order(tmp_path: Path) -> None:
    labelled = load_labelled(WDBC, None)
    frozen, usable = set_aside(WDBC, labelled, seed=7, directory=tmp_path)
    assert frozen.rows == round(labelled.rows * 0.2) and usable.rows == labelled.rows - frozen.rows
    assert abs(np.mean(frozen.labels == "malignant") - np.mean(labelled.labels == "malignant")) < 0.01  # stratified
    again, usable_again = set_aside(WDBC, _shuffled(labelled, 3), seed=99, directory=tmp_path)
    assert again.digest == frozen.digest and usable_again.rows == usable.rows  # not re-drawn with another seed
    assert not set(record_hashes(usable_again.frame, usable_again.labels)) & frozen.hashes


def test_a_changed_record_is_refused(tmp_path: Path) -> None:
    set_aside(WDBC, load_labelled(WDBC, None), seed=7, directory=tmp_path)
    table = pl.read_parquet(tmp_path / "records.parquet")
    table.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(99.0).otherwise(pl.col("mean_radius"))
                       .alias("mean_radius")).write_parquet(tmp_path / "records.parquet")  # fmt: skip
    with pytest.raises(FrozenSetDamaged, match="do not match the digest"):
        open_frozen(tmp_path, WDBC)


def test_it_grows_only_by_new_audit_labels_and_keeps_its_history(tmp_path: Path) -> None:
    labelled = load_labelled(WDBC, None)
    frozen, usable = set_aside(WDBC, labelled, seed=7, directory=tmp_path)
    audited = LabelledData(usable.frame[:5], usable.labels[:5], "audit-sample")
    grown = grow(frozen, WDBC, audited)
    assert grown.rows == frozen.rows + 5 and grown.digest != frozen.digest
    assert grow(grown, WDBC, audited).digest == grown.digest  # nothing new: the same set
    history = json.loads((tmp_path / "manifest.json").read_text())["history"]
    assert [h["digest"] for h in history] == [frozen.digest, grown.digest] and history[1]["source"] == "audit-sample"
    reopened = open_frozen(tmp_path, WDBC)
    assert reopened is not None and reopened.digest == grown.digest and reopened.hashes == grown.hashes


def test_two_models_are_measured_on_the_same_frozen_cases(tmp_path: Path) -> None:
    from lifecycle.train import train

    keys = KeyStore(tmp_path / "keys")
    keys.generate()
    first = train(keys, WDBC, seed=1, evaluation=tmp_path / "evaluation")
    second = train(keys, WDBC, seed=2, estimator="lifecycle.estimators:gradient_boosting",
                   evaluation=tmp_path / "evaluation")  # fmt: skip
    frozen = open_frozen(tmp_path / "evaluation", WDBC)
    assert frozen is not None and first.metrics["test_rows"] == second.metrics["test_rows"] == frozen.rows
    assert first.metrics["calibration"]["rows"] == first.metrics["test_rows"]


def test_the_cli_names_a_damaged_set_in_one_line(tmp_path: Path) -> None:
    from slipway.cli import main

    runner = CliRunner()
    assert runner.invoke(main, ["keys", "generate"]).exit_code == 0
    assert runner.invoke(main, ["train"]).exit_code == 0
    (folder,) = (tmp_path / "slipway-home" / "evaluation").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "digest": "sha256:" + "0" * 64}))
    result = runner.invoke(main, ["train"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "do not match the digest" in result.output
