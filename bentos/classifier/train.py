"""`slipway train`: fit, calibrate, evaluate, sign and store the reference classifier.

Data: scikit-learn's Wisconsin Diagnostic Breast Cancer set (ships inside the package; nothing is
downloaded), or a file of labelled records in the data contract (``--data``, CSV or Parquet, e.g.
resolved review labels appended to the pipeline output). Split (stratified, seeded) into 60 %
training, 20 % calibration and 20 % held-out test. A standardised logistic regression is fitted on
the training split and calibrated (sigmoid) on the calibration split; the test split gives the
reported metrics. The card records thresholds, drift references and the data fingerprint.

Usage::

    result = train(KeyStore.default(), seed=7)
    result.tag, result.digest, result.signature, result.metrics
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bentos.classifier.artifact import SavedArtifact, save_artifact
from bentos.classifier.drift import FloatArray, feature_reference, prediction_reference
from slipway.contract import FEATURE_NAMES, LABEL, LABELS, canonical_name
from slipway.errors import UsageError
from slipway.signing import KeyStore

CONFIDENCE_THRESHOLD = 0.90  # below this calibrated confidence a person decides
OOD_QUANTILE = 0.995  # training records beyond this Mahalanobis-like distance count as unusual
MINIMUM_ACCURACY = 0.90  # a candidate below this on held-out data is rejected, never stored


class CandidateRejected(UsageError):
    """The trained candidate does not meet the promotion bar; nothing was stored."""

    exit_code = 1

    def __init__(self, message: str, accuracy: float) -> None:
        super().__init__(message)
        self.accuracy = accuracy


@dataclass(frozen=True)
class TrainResult:
    artifact: SavedArtifact
    metrics: dict[str, float]
    rows: int

    @property
    def tag(self) -> str:
        return self.artifact.tag

    @property
    def digest(self) -> str:
        return self.artifact.digest

    @property
    def signature(self) -> str:
        return self.artifact.signature


def load_dataset(path: Path | None) -> tuple[FloatArray, np.ndarray[Any, Any], str]:
    """Feature matrix (contract order), labels (1 = malignant) and a description of the source."""
    if path is None:
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        return data.data.astype(np.float64), (data.target == 0).astype(np.int64), "sklearn:load_breast_cancer"
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path) if path.suffix in (".parquet", ".pq") else pacsv.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read training data {path}: {exc}") from None
    columns = {canonical_name(c) or c: c for c in table.column_names}
    missing = [name for name in (*FEATURE_NAMES, LABEL) if name not in columns]
    if missing:
        raise UsageError(f"training data {path} lacks column(s): {', '.join(missing)}")
    matrix = np.column_stack([table[columns[n]].to_numpy().astype(np.float64) for n in FEATURE_NAMES])
    labels_raw = [str(v) for v in table[columns[LABEL]].to_pylist()]
    unknown = sorted(set(labels_raw) - set(LABELS))
    if unknown:
        raise UsageError(f"training data {path}: {LABEL} must be one of {list(LABELS)}, found {unknown[:5]}")
    labels = np.array([1 if v == "malignant" else 0 for v in labels_raw], dtype=np.int64)
    return matrix, labels, f"file:{path.name}"


def fingerprint(matrix: FloatArray, labels: np.ndarray[Any, Any]) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(matrix).tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    return "sha256:" + digest.hexdigest()


def train(keys: KeyStore, *, seed: int = 7, data: Path | None = None) -> TrainResult:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    matrix, labels, source = load_dataset(data)
    if len(labels) < 50 or len(set(labels.tolist())) < 2:
        raise UsageError("training needs at least 50 labelled records of both classes")
    x_train, x_rest, y_train, y_rest = train_test_split(
        matrix, labels, test_size=0.4, stratify=labels, random_state=seed
    )
    x_cal, x_test, y_cal, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=seed)

    base = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=5000))
    base.fit(x_train, y_train)
    model = CalibratedClassifierCV(FrozenEstimator(base), method="sigmoid")
    model.fit(x_cal, y_cal)

    p_test = model.predict_proba(x_test)[:, 1]
    metrics = {
        "accuracy": float(accuracy_score(y_test, p_test >= 0.5)),
        "roc_auc": float(roc_auc_score(y_test, p_test)),
        "brier": float(brier_score_loss(y_test, p_test)),
        "test_rows": float(len(y_test)),
    }
    if metrics["accuracy"] < MINIMUM_ACCURACY:
        raise CandidateRejected(
            f"candidate accuracy {metrics['accuracy']:.3f} on {len(y_test)} held-out records is below "
            f"{MINIMUM_ACCURACY}: not stored",
            metrics["accuracy"],
        )

    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    distances = np.mean(((x_train - mean) / std) ** 2, axis=1)
    confidence_test = np.maximum(p_test, 1 - p_test)
    card: dict[str, Any] = {
        "schema": 1,
        "model": "standardised logistic regression, sigmoid-calibrated",
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "positive_label": "malignant",
        "labels": list(LABELS),
        "features": list(FEATURE_NAMES),
        "training": {
            "source": source,
            "rows": len(labels),
            "fingerprint": fingerprint(matrix, labels),
            "split": {"train": len(y_train), "calibration": len(y_cal), "test": len(y_test)},
            "seed": seed,
        },
        "metrics": metrics,
        "thresholds": {
            "decision": 0.5,
            "confidence": CONFIDENCE_THRESHOLD,
            "ood_distance": float(np.quantile(distances, OOD_QUANTILE)),
            "auto_share_on_test": float(np.mean(confidence_test >= CONFIDENCE_THRESHOLD)),
        },
        "ood": {"mean": mean.tolist(), "std": std.tolist()},
        "drift": {
            **feature_reference(x_train, FEATURE_NAMES),
            "prediction": prediction_reference(model.predict_proba(x_cal)[:, 1]),
            "sample": {name: sorted(x_train[:, i].tolist()) for i, name in enumerate(FEATURE_NAMES)},
        },
    }
    artifact = save_artifact(model, card, keys)
    return TrainResult(artifact, metrics, len(labels))
