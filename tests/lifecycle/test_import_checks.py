"""What `slipway model import` and `slipway train` refuse, and why, before anything is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from lifecycle.estimators import build, load_factory
from lifecycle.importer import check_answers, check_fits_contract, load_estimator, probe_records
from slipway.contract import load_contract
from slipway.errors import UsageError

CREDIT = load_contract("credit")


class Fitted:
    """A stand-in for an engineer's estimator: what the checks look at, nothing more."""

    def __init__(self, classes: list[Any], names: list[str] | None = None, fail_on_none: bool = False) -> None:
        self.classes_ = np.asarray(classes, dtype=object)
        if names is not None:
            self.feature_names_in_ = np.asarray(names, dtype=object)
        self.fail_on_none = fail_on_none

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray[Any, Any]:
        if self.fail_on_none and frame["home"].null_count():
            raise TypeError("Encoders require their input to be uniformly strings or numbers. Got ['NoneType', 'str']")
        return np.full((frame.height, len(self.classes_)), 1 / len(self.classes_))


def test_pickles_need_an_explicit_acknowledgement(tmp_path: Path) -> None:
    (tmp_path / "m.joblib").write_bytes(b"not even a pickle")
    with pytest.raises(UsageError, match="loading it runs any code"):
        load_estimator(tmp_path / "m.joblib")
    with pytest.raises(UsageError, match="cannot load"):
        load_estimator(tmp_path / "m.joblib", allow_pickle=True)
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(UsageError, match=r"give a \.skops file"):
        load_estimator(tmp_path / "m.onnx")
    with pytest.raises(UsageError, match="no such model file"):
        load_estimator(tmp_path / "missing.skops")
    (tmp_path / "broken.skops").write_bytes(b"PK not a zip")
    with pytest.raises(UsageError, match="not a readable skops file"):
        load_estimator(tmp_path / "broken.skops")


def test_classes_and_columns_must_be_the_contracts() -> None:
    check_fits_contract(Fitted(["high", "low", "medium"], list(CREDIT.input_names)), CREDIT)
    with pytest.raises(UsageError, match=r"classes \[0, 1, 2\] are not the contract's classes"):
        check_fits_contract(Fitted([0, 1, 2]), CREDIT)
    with pytest.raises(UsageError, match=r"missing \['region'\], extra \['zip_code'\]"):
        names = [n for n in CREDIT.input_names if n != "region"] + ["zip_code"]
        check_fits_contract(Fitted(["high", "low", "medium"], names), CREDIT)


def test_a_model_that_fails_on_records_the_contract_allows_is_refused() -> None:
    records = probe_records(CREDIT)
    assert any(r["home"] is None for r in records) and any(r["region"] == "overseas" for r in records)
    check_answers(Fitted(["high", "low", "medium"]), CREDIT)
    with pytest.raises(UsageError, match=r"fails on records contract credit allows.*handle_unknown='ignore'"):
        check_answers(Fitted(["high", "low", "medium"], fail_on_none=True), CREDIT)


def test_estimator_factories_are_checked() -> None:
    assert callable(load_factory("lifecycle.estimators:logistic"))
    for spec, message in (
        ("nocolon", "give MODULE:FACTORY"),
        ("no.such.module:f", "cannot import no.such.module"),
        ("lifecycle.estimators:nothing", "has no callable nothing"),
        ("lifecycle.estimators:DEFAULT", "has no callable DEFAULT"),
        ("builtins:dict", "lacks fit, predict_proba"),
    ):
        with pytest.raises(UsageError, match=message):
            build(spec)


def test_training_needs_enough_records_of_every_class(tmp_path: Path) -> None:
    from lifecycle.train import train
    from slipway.signing import KeyStore

    keys = KeyStore(tmp_path / "keys")
    keys.generate()
    data = pl.read_csv(CREDIT.source.parent / "examples" / "credit-applications.csv", infer_schema=False)  # type: ignore[union-attr]
    few_high = pl.concat([data.filter(pl.col("risk") != "high"), data.filter(pl.col("risk") == "high").head(3)])
    few_high.write_csv(tmp_path / "few.csv")
    with pytest.raises(UsageError, match="high has 3"):
        train(keys, CREDIT, data=tmp_path / "few.csv")
