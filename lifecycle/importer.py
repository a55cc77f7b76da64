"""`slipway model import FILE`: take a classifier trained elsewhere, check it against the contract,
calibrate and evaluate it on the given labelled data, and sign and store it like a trained one.

Formats: skops (``.skops``, preferred: loading it runs no code; every type in the file that skops
does not trust by default must be named with ``--trust``, after reviewing it), or a pickle/joblib
file (``.joblib``, ``.pkl``) only with ``--allow-pickle``, because loading a pickle runs whatever
code it contains. What is stored is the kit's own signed artifact; the server never loads the
original file.

Checks before anything is stored: the model has ``predict_proba`` and its ``classes_`` are
exactly the contract's classes; if it records ``feature_names_in_``, they are the contract's
inputs; it answers records that the contract allows but training may never have had (every
category value, missing optional values, range ends) with finite probabilities; and after
calibration on half of the data it reaches the contract's ``min_accuracy`` on the other half.

Usage::

    result = import_model(KeyStore.default(), contract, Path("model.skops"), data=Path("eval.csv"))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bentos.classifier.artifact import save_artifact
from bentos.classifier.inputs import FRAME, model_frame
from lifecycle.card import build_card
from lifecycle.data import load_labelled
from lifecycle.evaluate import evaluate, require_floor
from lifecycle.frozen import set_aside
from lifecycle.train import TrainResult, require_classes
from slipway.contract import Contract, Value
from slipway.errors import UsageError
from slipway.signing import KeyStore

PICKLE_SUFFIXES = (".joblib", ".pkl", ".pickle")


def load_estimator(path: Path, *, trusted: Sequence[str] = (), allow_pickle: bool = False) -> Any:
    if not path.is_file():
        raise UsageError(f"no such model file: {path}")
    if path.suffix == ".skops":
        import skops.io

        try:
            untrusted = skops.io.get_untrusted_types(file=path)
        except Exception as exc:  # noqa: BLE001 - any parse failure of a user file is one clear line
            raise UsageError(f"{path} is not a readable skops file: {exc}") from None
        unknown = sorted(set(untrusted) - set(trusted))
        if unknown:
            raise UsageError(
                f"{path} contains types skops does not trust by default: {', '.join(unknown)}; review them and "
                "pass --trust TYPE for each one you trust"
            )
        return skops.io.load(path, trusted=list(untrusted))
    if path.suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise UsageError(
                f"{path} is a pickle: loading it runs any code it contains. Save the model with skops "
                "(skops.io.dump(model, 'model.skops')), or pass --allow-pickle if you trust its origin"
            )
        import joblib

        try:
            return joblib.load(path)
        except Exception as exc:  # noqa: BLE001
            raise UsageError(f"cannot load {path}: {exc}") from None
    raise UsageError(f"{path}: give a .skops file (or, with --allow-pickle, {', '.join(PICKLE_SUFFIXES)})")


def check_fits_contract(estimator: Any, contract: Contract) -> None:
    if not callable(getattr(estimator, "predict_proba", None)) or not hasattr(estimator, "classes_"):
        raise UsageError(f"{type(estimator).__name__} is not a fitted classifier with predict_proba and classes_")
    classes = [c.item() if isinstance(c, np.generic) else c for c in estimator.classes_]
    if sorted(map(str, classes)) != sorted(contract.classes) or not all(isinstance(c, str) for c in classes):
        raise UsageError(
            f"the model's classes {classes} are not the contract's classes {list(contract.classes)} "
            "(fit it on the class names)"
        )
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and set(map(str, names)) != set(contract.input_names):
        expected, found = set(contract.input_names), set(map(str, names))
        raise UsageError(
            f"the model was fitted on other columns than contract {contract.name}'s inputs: "
            f"missing {sorted(expected - found)}, extra {sorted(found - expected)}"
        )


def probe_records(contract: Contract) -> list[dict[str, Value | None]]:
    """Records the contract allows that a model must answer: each category value, each optional
    input missing, each range end."""
    base: dict[str, Value | None] = {}
    for f in contract.inputs:
        if f.type == "category":
            base[f.name] = (f.values or ("",))[0]
        elif f.type == "bool":
            base[f.name] = False
        elif f.range is not None:
            base[f.name] = f.range[0] if f.type == "float" else int(f.range[0])
        else:
            base[f.name] = 0 if f.type == "int" else 0.0
    records = [dict(base)]
    for f in contract.inputs:
        records += [{**base, f.name: value} for value in (f.values or ())]
        if not f.required:
            records.append({**base, f.name: f.default})
        if f.range is not None:
            high = f.range[1] if f.type == "float" else int(f.range[1])
            records.append({**base, f.name: high})
    return records


def check_answers(estimator: Any, contract: Contract) -> None:
    frame = model_frame(contract, probe_records(contract))
    try:
        probabilities = np.asarray(estimator.predict_proba(frame), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - the point is to catch whatever the model does
        raise UsageError(
            f"the model fails on records contract {contract.name} allows (every category value, missing optional "
            f"values, range ends): {type(exc).__name__}: {exc}. Refit it to accept them, e.g. "
            "OneHotEncoder(handle_unknown='ignore') and an imputer"
        ) from None
    if probabilities.shape != (frame.height, len(contract.classes)) or not np.isfinite(probabilities).all():
        raise UsageError("the model's predict_proba does not give one finite probability per class for every record")


def import_model(
    keys: KeyStore,
    contract: Contract,
    file: Path,
    *,
    data: Path | None,
    trusted: Sequence[str] = (),
    allow_pickle: bool = False,
    seed: int = 7,
    evaluation: Path | None = None,
) -> TrainResult:
    """``evaluation``: the frozen evaluation set's folder (default: under ``$SLIPWAY_HOME``). The kit
    cannot know whether the model's makers trained on those records: say so to them."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    estimator = load_estimator(file, trusted=trusted, allow_pickle=allow_pickle)
    check_fits_contract(estimator, contract)
    check_answers(estimator, contract)
    labelled = load_labelled(contract, data)
    require_classes(labelled, contract, 4)
    frozen, usable = set_aside(contract, labelled, seed=seed, directory=evaluation)
    require_classes(usable, contract, 4)
    (x_cal, y_cal), (x_test, y_test) = (usable.frame, usable.labels), (frozen.frame, frozen.labels)
    model = CalibratedClassifierCV(FrozenEstimator(estimator), method="sigmoid")
    model.fit(x_cal, y_cal)
    metrics = evaluate(model.predict_proba(x_test), [str(c) for c in model.classes_], y_test)
    require_floor(metrics, contract)
    origin = {
        "model": f"imported {type(estimator).__name__}, sigmoid-calibrated by the kit",
        "origin": {"kind": "imported", "file": file.name, "sha256": _sha256(file), "format": file.suffix.lstrip(".")},
        "training": {  # what the kit saw: the model's own training data is unknown to it
            "source": labelled.source,
            "rows": labelled.rows,
            "rejected": labelled.rejected,
            "rejected_by_reason": labelled.reasons,
            "fingerprint": usable.fingerprint(),
            "split": {"calibration": len(y_cal), "set_aside_as_frozen": labelled.rows - usable.rows},
            "seed": seed,
        },
        "evaluation_set": frozen.summary(),
    }
    # the drift and out-of-distribution references come from the calibration records: the best
    # available picture of the population the model is meant for
    card = build_card(contract, model, reference=x_cal, calibration=x_cal, test=x_test, metrics=metrics,
                      origin=origin, form=FRAME)  # fmt: skip
    return TrainResult(save_artifact(model, card, keys), metrics, labelled.rows, labelled.rejected)


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
