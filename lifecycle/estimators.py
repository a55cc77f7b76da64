"""Estimator factories for ``slipway train --estimator MODULE:FACTORY``.

A factory is any importable callable taking no arguments that returns an unfitted
scikit-learn-compatible classifier (``fit``, ``predict_proba``, ``classes_``). The kit puts its
own preprocessing in front (see ``lifecycle.preprocess``) and calibrates the result.

Usage::

    slipway train --contract contracts/credit.yaml --estimator lifecycle.estimators:gradient_boosting
    slipway train --contract my.yaml --data my.csv --estimator mypackage.models:forest
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from slipway.errors import UsageError

DEFAULT = "lifecycle.estimators:logistic"


def logistic() -> Any:
    """The default: an L2-regularised logistic regression (on standardised inputs)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=0.5, max_iter=5000)


def gradient_boosting() -> Any:
    """Histogram gradient boosting: non-linear, copes with many records."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, random_state=0)


def load_factory(spec: str) -> Callable[[], Any]:
    """``module:attribute`` as a callable; UsageError naming what is wrong."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UsageError(f"--estimator {spec!r}: give MODULE:FACTORY, e.g. {DEFAULT}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"--estimator {spec!r}: cannot import {module_name} ({exc})") from None
    factory: Callable[[], Any] | None = getattr(module, attribute, None)
    if not callable(factory):
        raise UsageError(f"--estimator {spec!r}: {module_name} has no callable {attribute}")
    return factory


def build(spec: str) -> Any:
    estimator = load_factory(spec)()
    missing = [name for name in ("fit", "predict_proba") if not callable(getattr(estimator, name, None))]
    if missing:
        raise UsageError(f"--estimator {spec!r} returned {type(estimator).__name__}, which lacks {', '.join(missing)}")
    return estimator
