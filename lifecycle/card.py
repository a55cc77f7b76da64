"""The model card: everything the server needs besides the estimator, computed the same way for a
trained and an imported model.

Contents: the contract (name, version, digest) the model was made for, its classes in the order of
its probability columns, its inputs and their types, held-out metrics, thresholds (confidence, the
out-of-distribution distance), the out-of-distribution reference (per number: mean, standard
deviation and the training range; per category: the values seen), and the drift references.

Usage::

    card = build_card(contract, model, reference=frame, calibration=frame, test=frame, metrics=m, origin={...})
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import polars as pl

from bentos.classifier.artifact import CARD_SCHEMA
from bentos.classifier.drift import feature_reference, prediction_reference
from bentos.classifier.inputs import model_input, numeric_matrix
from bentos.classifier.routing import mean_squared_distance
from slipway.contract import Contract

OOD_QUANTILE = 0.995  # reference records beyond this distance count as unusual


def ood_reference(frame: pl.DataFrame, contract: Contract) -> dict[str, Any]:
    numeric = [f.name for f in contract.inputs if f.numeric]
    numbers = numeric_matrix(frame, numeric)
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(numbers, axis=0)) if numeric else np.zeros(0)
        std = np.nan_to_num(np.nanstd(numbers, axis=0)) if numeric else np.zeros(0)
    std[std == 0] = 1.0
    categories = {
        f.name: sorted({v for v in frame[f.name].to_list() if v is not None})
        for f in contract.inputs
        if f.type == "category"
    }
    return {
        "numeric": numeric,
        "mean": mean.tolist(),
        "std": std.tolist(),
        "min": np.nan_to_num(np.nanmin(numbers, axis=0), nan=-np.inf).tolist() if numeric else [],
        "max": np.nan_to_num(np.nanmax(numbers, axis=0), nan=np.inf).tolist() if numeric else [],
        "categories": categories,
    }


def build_card(
    contract: Contract,
    model: Any,
    *,
    reference: pl.DataFrame,
    calibration: pl.DataFrame,
    test: pl.DataFrame,
    metrics: dict[str, Any],
    origin: dict[str, Any],
    form: str,
) -> dict[str, Any]:
    """``reference``: the data the model learnt from (its distribution is what drift compares to);
    ``form``: how the model takes its input (``bentos.classifier.inputs``)."""
    classes = [str(c) for c in model.classes_]
    ood = ood_reference(reference, contract)
    _, distances = mean_squared_distance(
        numeric_matrix(reference, ood["numeric"]), np.asarray(ood["mean"]), np.asarray(ood["std"])
    )
    confidence_test = np.max(model.predict_proba(model_input(test, form)), axis=1)
    numeric_sample = {
        name: sorted(v for v in reference[name].cast(pl.Float64).to_list() if v is not None) for name in ood["numeric"]
    }
    return {
        "schema": CARD_SCHEMA,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "contract": contract.summary(),
        "classes": classes,
        "features": list(contract.input_names),
        "feature_types": {f.name: f.type for f in contract.inputs},
        "input": form,
        **origin,
        "metrics": metrics,
        "thresholds": {
            "confidence": contract.confidence_threshold,
            "ood_distance": float(np.quantile(distances, OOD_QUANTILE)) if len(distances) else 0.0,
            "auto_share_on_test": float(np.mean(confidence_test >= contract.confidence_threshold)),
        },
        "ood": ood,
        "drift": {
            **feature_reference(reference, contract),
            "prediction": prediction_reference(model.predict_proba(model_input(calibration, form)), classes),
            "sample": numeric_sample,
        },
    }
