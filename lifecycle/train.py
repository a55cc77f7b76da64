"""`slipway train`: fit, calibrate, evaluate, sign and store a classifier for a data contract.

Data: the labelled records given (``--data``: any file the pipeline reads, e.g. its output plus
resolved review labels), else the contract's ``default_data``. Records in the contract's frozen
evaluation set (``lifecycle.frozen``; made from the first run's data) are set aside; the rest is
split (stratified, seeded) into 75 % training and 25 % calibration. The estimator (default:
logistic regression; ``--estimator MODULE:FACTORY`` for any scikit-learn-compatible classifier) is
fitted behind the kit's preprocessing on the training split and calibrated (sigmoid, one-vs-rest
for more than two classes) on the calibration split; the frozen set gives the reported metrics and
the calibration check, the same cases for every model. The card records the contract's digest,
thresholds, references, the data fingerprint and the frozen set's digest.

Usage::

    result = train(KeyStore.default(), load_contract("wdbc"), seed=7)
    result.tag, result.digest, result.signature, result.metrics
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bentos.classifier.artifact import SavedArtifact, save_artifact
from bentos.classifier.inputs import input_format, model_input
from lifecycle.card import build_card
from lifecycle.data import LabelledData, load_labelled
from lifecycle.estimators import DEFAULT, build
from lifecycle.evaluate import evaluate, require_floor
from lifecycle.frozen import set_aside
from lifecycle.preprocess import kit_preprocessor
from slipway.contract import Contract
from slipway.errors import UsageError
from slipway.signing import KeyStore

MINIMUM_ROWS = 50
MINIMUM_PER_CLASS = 5  # each of the three splits needs some of every class


@dataclass(frozen=True)
class TrainResult:
    artifact: SavedArtifact
    metrics: dict[str, Any]
    rows: int
    rejected: int = 0

    @property
    def tag(self) -> str:
        return self.artifact.tag

    @property
    def digest(self) -> str:
        return self.artifact.digest

    @property
    def signature(self) -> str:
        return self.artifact.signature


def require_classes(data: LabelledData, contract: Contract, minimum: int) -> None:
    counts = Counter(data.labels.tolist())
    if data.rows < MINIMUM_ROWS:
        raise UsageError(f"{data.source}: {data.rows} usable labelled records; at least {MINIMUM_ROWS} are needed")
    short = {c: counts.get(c, 0) for c in contract.classes if counts.get(c, 0) < minimum}
    if short:
        raise UsageError(
            f"{data.source}: every class of contract {contract.name} needs at least {minimum} labelled records; "
            + ", ".join(f"{c} has {n}" for c, n in short.items())
        )


def train(
    keys: KeyStore,
    contract: Contract,
    *,
    seed: int = 7,
    data: Path | None = None,
    estimator: str = DEFAULT,
    evaluation: Path | None = None,
) -> TrainResult:
    """``evaluation``: the frozen evaluation set's folder (default: under ``$SLIPWAY_HOME``)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline

    labelled = load_labelled(contract, data)
    require_classes(labelled, contract, MINIMUM_PER_CLASS)
    frozen, usable = set_aside(contract, labelled, seed=seed, directory=evaluation)
    require_classes(usable, contract, MINIMUM_PER_CLASS)
    train_index, cal_index = train_test_split(
        np.arange(usable.rows), test_size=0.25, stratify=usable.labels, random_state=seed
    )
    (x_train, y_train), (x_cal, y_cal) = (usable.subset(i) for i in (train_index, cal_index))
    x_test, y_test = frozen.frame, frozen.labels

    form = input_format(contract)
    base = make_pipeline(kit_preprocessor(contract), build(estimator))
    base.fit(model_input(x_train, form), y_train)
    model = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid")
    model.fit(model_input(x_cal, form), y_cal)

    metrics = evaluate(model.predict_proba(model_input(x_test, form)), [str(c) for c in model.classes_], y_test)
    require_floor(metrics, contract)
    origin = {
        "model": f"{type(base.steps[-1][1]).__name__} behind the kit's preprocessing, sigmoid-calibrated",
        "origin": {"kind": "trained", "estimator": estimator},
        "training": {
            "source": labelled.source,
            "rows": labelled.rows,
            "rejected": labelled.rejected,
            "rejected_by_reason": labelled.reasons,
            "fingerprint": usable.fingerprint(),
            "split": {
                "train": len(y_train),
                "calibration": len(y_cal),
                "set_aside_as_frozen": labelled.rows - usable.rows,
            },
            "seed": seed,
        },
        "evaluation_set": frozen.summary(),
    }
    card = build_card(contract, model, reference=x_train, calibration=x_cal, test=x_test, metrics=metrics,
                      origin=origin, form=form)  # fmt: skip
    return TrainResult(save_artifact(model, card, keys), metrics, labelled.rows, labelled.rejected)
