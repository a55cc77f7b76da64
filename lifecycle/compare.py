"""Champion against challenger on the frozen evaluation set, by the pre-registered criteria.

Both models answer the same frozen cases, so every comparison is paired: for each case the
difference d = (challenger right) - (champion right), and the one-sided lower confidence bound of
its mean, mean(d) - z * sd(d) / sqrt(n) (normal approximation of the paired difference). Checks:

- accuracy: the bound above -``accuracy.margin`` (non-inferiority within the margin);
- recall of each high-stakes class: the same over the cases of that class, above
  -``high_stakes_recall.margin``;
- slices (one per source of the frozen records and per band of the champion's confidence), each
  with at least ``min_count`` cases: the challenger's accuracy at most ``margin`` below the
  champion's (point estimates; smaller slices are listed as not checked);
- calibration: the challenger's Brier score at most the champion's + ``tolerance``, and its
  calibration check passed (``lifecycle.reliability``);
- latency: the challenger's p95 single-record latency at most ``ratio`` x the champion's + ``slack_ms``.

Usage::

    report = compare(challenger, champion, frozen, contract, criteria)
    report["passed"], report["checks"]
"""

from __future__ import annotations

import datetime
import itertools
import math
import time
from statistics import NormalDist
from typing import Any

import numpy as np

from bentos.classifier.artifact import VerifiedModel
from bentos.classifier.inputs import model_input
from lifecycle.criteria import PromotionCriteria
from lifecycle.evaluate import evaluate
from lifecycle.frozen import FrozenSet
from slipway.contract import Contract
from slipway.errors import UsageError


def _paired(right_challenger: np.ndarray[Any, Any], right_champion: np.ndarray[Any, Any], z: float) -> dict[str, Any]:
    difference = right_challenger.astype(float) - right_champion.astype(float)
    n = len(difference)
    mean = float(difference.mean()) if n else 0.0
    spread = float(difference.std(ddof=1)) if n > 1 else 0.0
    return {"n": n, "challenger": float(right_challenger.mean()) if n else None,
            "champion": float(right_champion.mean()) if n else None, "difference": mean,
            "lower_bound": mean - z * spread / math.sqrt(n) if n else None}  # fmt: skip


def _check(name: str, passed: bool, value: float | None, bound: float, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "value": value, "bound": bound, "detail": detail}


REPEATS = 3


def _latency_p95_ms(models: list[VerifiedModel], frozen: FrozenSet, samples: int) -> list[float]:
    """p95 single-record predict_proba time of each model, timed interleaved on the same records.
    Each record is timed REPEATS times and the fastest kept: what the model costs, not what a busy
    machine's scheduler added (on a loaded node the raw p95 is mostly waiting, and the check flapped)."""
    rows = [frozen.frame[i % frozen.rows : i % frozen.rows + 1] for i in range(samples)]
    inputs = [[model_input(row, m.card["input"]) for row in rows] for m in models]
    timings: list[list[float]] = [[] for _ in models]
    for m, model in enumerate(models):  # warm-up: first calls pay for lazy imports and caches
        for record in inputs[m][:10]:
            model.estimator.predict_proba(record)
    for i in range(samples):
        best = [float("inf")] * len(models)
        for _ in range(REPEATS):
            for m, model in enumerate(models):
                start = time.perf_counter()
                model.estimator.predict_proba(inputs[m][i])
                best[m] = min(best[m], (time.perf_counter() - start) * 1000.0)
        for m in range(len(models)):
            timings[m].append(best[m])
    return [float(np.quantile(t, 0.95)) for t in timings]


def _bands(edges: tuple[float, ...], confidence: np.ndarray[Any, Any]) -> list[tuple[str, np.ndarray[Any, Any]]]:
    bands = []
    for lo, hi in itertools.pairwise(edges):
        last = hi == edges[-1]
        members = (confidence >= lo) & ((confidence <= hi) if last else (confidence < hi))
        bands.append((f"confidence[{lo:.2f},{hi:.2f}{']' if last else ')'}", members))
    return bands


def _model_facts(model: VerifiedModel) -> dict[str, Any]:
    card = model.card
    return {"tag": model.tag, "digest": model.digest, "signature": model.signature,
            "training_fingerprint": (card.get("training") or {}).get("fingerprint"),
            "evaluation_set_on_card": (card.get("evaluation_set") or {}).get("digest"),
            "created": card.get("created")}  # fmt: skip


def compare(
    challenger: VerifiedModel,
    champion: VerifiedModel,
    frozen: FrozenSet,
    contract: Contract,
    criteria: PromotionCriteria,
) -> dict[str, Any]:
    if challenger.card["classes"] != champion.card["classes"]:
        raise UsageError(f"{challenger.tag} and {champion.tag} answer different classes: they cannot be compared")
    if challenger.digest == champion.digest:
        raise UsageError(f"{challenger.tag} is the champion itself: nothing to compare")
    classes = list(challenger.card["classes"])
    truth = frozen.labels.astype(object)
    answers = {}
    for role, model in (("challenger", challenger), ("champion", champion)):
        probabilities = np.asarray(model.estimator.predict_proba(model_input(frozen.frame, model.card["input"])))
        predicted = np.asarray(classes, dtype=object)[np.argmax(probabilities, axis=1)]
        answers[role] = (probabilities, predicted == truth, evaluate(probabilities, classes, frozen.labels))
    (_, right_new, metrics_new), (p_old, right_old, metrics_old) = answers["challenger"], answers["champion"]
    z = NormalDist().inv_cdf(criteria.confidence)
    checks = []

    accuracy = _paired(right_new, right_old, z)
    margin = criteria.accuracy.margin
    detail = (f"paired difference {accuracy['difference']:+.4f} on {accuracy['n']} cases; "
              f"{criteria.confidence:.0%} lower bound {accuracy['lower_bound']:+.4f}")  # fmt: skip
    checks.append(_check("accuracy", accuracy["lower_bound"] > -margin, accuracy["lower_bound"], -margin, detail))
    recalls = {}
    margin = criteria.high_stakes_recall.margin
    for label in contract.label.high_stakes:
        members = truth == label
        recalls[label] = recall = _paired(right_new[members], right_old[members], z)
        passed = recall["n"] > 0 and recall["lower_bound"] > -margin
        detail = f"{recall['n']} {label} cases: recall {recall['champion']} -> {recall['challenger']}"
        checks.append(_check(f"recall[{label}]", passed, recall["lower_bound"], -margin, detail))

    slices, unchecked = [], []
    sources = [(f"source={s}", frozen.sources == s) for s in sorted(set(frozen.sources.tolist()))]
    for name, members in sources + _bands(criteria.slices.confidence_bands, p_old.max(axis=1)):
        n = int(members.sum())
        if n < criteria.slices.min_count:
            unchecked.append({"slice": name, "n": n})
            continue
        new, old = float(right_new[members].mean()), float(right_old[members].mean())
        slices.append({"slice": name, "n": n, "challenger": new, "champion": old})
        margin = criteria.slices.margin
        checks.append(_check(f"slice[{name}]", new >= old - margin, new - old, -margin,
                             f"{n} cases: accuracy {old:.4f} -> {new:.4f}"))  # fmt: skip

    brier_new, brier_old = metrics_new["brier"], metrics_old["brier"]
    tolerance = criteria.brier.tolerance
    checks.append(_check("brier", brier_new <= brier_old + tolerance, brier_new - brier_old, tolerance,
                         f"Brier {brier_old:.4f} -> {brier_new:.4f}"))  # fmt: skip
    calibration = metrics_new["calibration"]
    if criteria.calibration.require_ok:
        detail = f"observed vs expected correct z {calibration['z']:+.2f} (|z| <= {calibration['z_limit']})"
        checks.append(_check("calibration", calibration["ok"], calibration["z"], calibration["z_limit"], detail))
    latency_new, latency_old = _latency_p95_ms([challenger, champion], frozen, criteria.latency.samples)
    limit = latency_old * criteria.latency.ratio + criteria.latency.slack_ms
    detail = f"p95 single-record {latency_old:.3f} ms -> {latency_new:.3f} ms (limit {limit:.3f} ms)"
    checks.append(_check("latency", latency_new <= limit, latency_new, limit, detail))

    return {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "contract": contract.summary(),
        "challenger": _model_facts(challenger),
        "champion": _model_facts(champion),
        "evaluation_set": frozen.summary(),
        "criteria": {"source": criteria.source, "version": criteria.version, "digest": criteria.digest},
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "paired": {"accuracy": accuracy, "high_stakes_recall": recalls},
        "slices": slices,
        "slices_not_checked": unchecked,
        "latency_p95_ms": {"challenger": latency_new, "champion": latency_old},
        "metrics": {"challenger": metrics_new, "champion": metrics_old},
    }
