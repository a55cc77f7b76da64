"""Held-out evaluation of a calibrated candidate, the same for trained and imported models.

Metrics: accuracy, balanced accuracy, macro F1, log loss, the (multiclass) Brier score, ROC AUC
(one-vs-rest, macro, for more than two classes), per class precision, recall and support, and the
calibration check that says whether the model's probabilities can estimate its accuracy
(``lifecycle.reliability``). A
candidate whose accuracy is below the contract's ``min_accuracy`` is refused (nothing is stored).

Usage::

    metrics = evaluate(probabilities, classes, truth)
    require_floor(metrics, contract)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lifecycle.reliability import reliability
from slipway.contract import Contract
from slipway.errors import UsageError


class CandidateRejected(UsageError):
    """The candidate does not meet the promotion bar; nothing was stored."""

    exit_code = 1

    def __init__(self, message: str, accuracy: float) -> None:
        super().__init__(message)
        self.accuracy = accuracy


def evaluate(
    probabilities: np.ndarray[Any, Any], classes: Sequence[str], truth: np.ndarray[Any, Any]
) -> dict[str, Any]:
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        f1_score,
        log_loss,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    labels = list(classes)
    predicted = np.asarray(labels, dtype=object)[np.argmax(probabilities, axis=1)]
    onehot = (np.asarray(truth, dtype=object)[:, None] == np.asarray(labels, dtype=object)[None, :]).astype(float)
    precision, recall, _, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
    metrics: dict[str, Any] = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        "log_loss": float(log_loss(truth, probabilities, labels=labels)),
        "brier": float(np.mean(np.sum((probabilities - onehot) ** 2, axis=1))),
        "test_rows": len(truth),
    }
    if len(set(np.asarray(truth).tolist())) == len(labels):
        if len(labels) == 2:
            metrics["roc_auc"] = float(roc_auc_score(onehot[:, 1], probabilities[:, 1]))
        else:
            metrics["roc_auc"] = float(roc_auc_score(truth, probabilities, labels=labels, multi_class="ovr"))
    metrics["per_class"] = {
        label: {"precision": float(p), "recall": float(r), "support": int(s)}
        for label, p, r, s in zip(labels, precision, recall, support, strict=True)
    }
    metrics["calibration"] = reliability(probabilities, labels, truth)
    return metrics


def require_floor(metrics: dict[str, Any], contract: Contract) -> None:
    accuracy = float(metrics["accuracy"])
    if accuracy < contract.min_accuracy:
        raise CandidateRejected(
            f"candidate accuracy {accuracy:.3f} on {metrics['test_rows']} held-out records is below the contract's "
            f"min_accuracy {contract.min_accuracy}: not stored",
            accuracy,
        )


def summary(metrics: dict[str, Any]) -> str:
    """One line: the headline figures."""
    keys = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc", "brier")
    return ", ".join(f"{key} {metrics[key]:.4f}" for key in keys if key in metrics)
