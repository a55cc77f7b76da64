"""The model loop as a reconciler: `slipway loop reconcile` (a CronJob; idempotent; state on the
volume) reads what Prometheus's alerts say and moves one contract's model through

    serving -> suspect -> retraining -> evaluating -> rejected | awaiting-approval -> shadow -> promoted
    (and rolled-back, after `slipway rollback`)

- **Triggers** (alerts from the failure-mode catalog, whose rules carry the hysteresis and the
  minimum window): ``EstimatedAccuracyLow`` (only for a model whose estimates are trusted),
  ``CalibrationBroken``, ``AuditAccuracyLow``. Drift alone (``FeatureDrift``, ``PredictionDrift``,
  ``OutOfDistributionSurge``) only makes the model *suspect*.
- **Guards**: nothing is retrained while a data source is offline or stale or the schema drifted
  (the data would be wrong), within the cool-down after an attempt, after ``max_attempts`` failed
  attempts (then a person is paged: ``RetrainingRejected``), or before ``min_new_labels`` labels
  arrived since the last attempt.
- **Retraining** fits on ``--data`` (fresh labelled records) plus the people's labels of routed cases;
  the random audit sample's labels grow the frozen evaluation set instead (``lifecycle.frozen``).
  The candidate is compared with the champion (``lifecycle.compare``); a pass becomes a promotion
  request by the loop's own verified subject (``$SLIPWAY_TOKEN``), which another person approves.
- **Shadow**: an approved challenger answers in shadow (``SLIPWAY_SHADOW_MODEL`` on the server)
  until the criteria's window and record count are reached; then it is promoted: the champion
  record, and ``Pulumi.<stack>.yaml`` when ``--stack`` is given.

State: ``$SLIPWAY_HOME/loop/<contract>-v<version>/state.json``; metrics for the alert rules in
``$SLIPWAY_HOME/metrics/loop.prom``.

Usage::

    outcome = reconcile(contract, LoopSettings(prometheus_url=url), who)
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from slipway.contract import Contract
from slipway.identity import Identity
from slipway.output import atomic_output

STATES = ("serving", "suspect", "retraining", "evaluating", "rejected", "awaiting-approval", "shadow", "promoted",
          "rolled-back")  # fmt: skip
TRIGGERS = ("EstimatedAccuracyLow", "CalibrationBroken", "AuditAccuracyLow")
SUSPECT_ONLY = ("FeatureDrift", "PredictionDrift", "OutOfDistributionSurge")
GUARDS = ("DataSourceOffline", "DataStale", "SchemaDrift")
HISTORY = 50


class LoopSettings(BaseSettings):
    """``SLIPWAY_LOOP_*`` (the CronJob's environment) or the command's options."""

    model_config = SettingsConfigDict(env_prefix="SLIPWAY_LOOP_", extra="ignore", frozen=True)

    prometheus_url: str = "http://127.0.0.1:9090"
    data: Path | None = None  # fresh labelled records for retraining (default: the contract's default_data)
    stack: str | None = None  # pin promotions into Pulumi.<stack>.yaml
    estimator: str = "lifecycle.estimators:logistic"
    criteria: Path | None = None
    cooldown_seconds: float = Field(6 * 3600.0, ge=0)
    max_attempts: int = Field(3, ge=1)
    min_new_labels: int = Field(50, ge=0)
    model: str | None = None  # the serving model to start from (default: the newest for the contract)


def _now() -> float:
    return time.time()


def _iso(at: float) -> str:
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="seconds")


class LoopState:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    @classmethod
    def load(cls, directory: Path) -> LoopState:
        path = directory / "state.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {
            "state": "serving", "since": _now(), "reason": "loop started", "attempts": 0, "last_attempt": None,
            "labels_at_last_attempt": 0, "candidate": None, "promotion_id": None, "history": []}  # fmt: skip
        return cls(path, data)

    @property
    def state(self) -> str:
        return str(self.data["state"])

    def move(self, state: str, reason: str) -> None:
        assert state in STATES, state
        if state != self.state or reason != self.data["reason"]:
            self.data["history"] = [*self.data["history"], {"time": _iso(_now()), "from": self.state, "to": state,
                                                            "reason": reason}][-HISTORY:]  # fmt: skip
        if state != self.state:
            self.data["since"] = _now()
        self.data["state"], self.data["reason"] = state, reason

    def save(self) -> None:
        with atomic_output(self.path) as stream:
            stream.write(json.dumps(self.data, indent=2) + "\n")


def loop_registry(state: LoopState, *, needs_person: bool) -> Any:
    """The loop's state for Prometheus: what RetrainingRejected and PromotionAwaitingApproval read."""
    from prometheus_client import CollectorRegistry, Gauge

    registry = CollectorRegistry()
    gauge = Gauge("slipway_loop_state", "The model loop's state (1 for the current one).", ["state"], registry=registry)
    for name in STATES:
        gauge.labels(state=name).set(1 if name == state.state else 0)
    Gauge("slipway_loop_attempts", "Retraining attempts since the model last served well.",
          registry=registry).set(state.data["attempts"])  # fmt: skip
    waiting = state.data["since"] if state.state == "awaiting-approval" else 0
    Gauge("slipway_loop_awaiting_approval_since_timestamp_seconds",
          "When the open promotion started waiting for approval (0 when none waits).",
          registry=registry).set(waiting)  # fmt: skip
    Gauge("slipway_loop_needs_person", "1 when the loop stopped trying and a person must act.",
          registry=registry).set(1 if needs_person else 0)  # fmt: skip
    Gauge("slipway_loop_last_reconcile_timestamp_seconds", "When the loop last reconciled.",
          registry=registry).set(_now())  # fmt: skip
    return registry


def write_loop_metrics(path: Path, state: LoopState, *, needs_person: bool) -> None:
    """Written beside the other jobs' metrics, and pushed to the Pushgateway when one is configured."""
    from slipway.metrics_publish import publish

    publish(loop_registry(state, needs_person=needs_person), path, job="slipway-loop")


class Reconciler:
    def __init__(self, contract: Contract, settings: LoopSettings, who: Identity) -> None:
        from lifecycle.champion import loop_directory
        from lifecycle.criteria import load_criteria
        from lifecycle.prometheus import Prometheus
        from slipway.signing import KeyStore

        self.contract, self.settings, self.who = contract, settings, who
        self.directory = loop_directory(contract)
        self.keys = KeyStore.default()
        self.criteria = load_criteria(settings.criteria)
        self.prometheus = Prometheus(settings.prometheus_url)
        self.state = LoopState.load(self.directory)
        self.needs_person = False

    # -- the pieces it reads -----------------------------------------------------------------------------
    def _champion(self) -> dict[str, Any]:
        from bentos.classifier.artifact import latest_for_contract, load_verified
        from lifecycle.champion import current_champion, record_champion

        champion = current_champion(self.contract)
        if champion is None:  # the first run: the model serving now is the champion
            tag = self.settings.model or latest_for_contract(self.contract)
            model = load_verified(tag, public_key=self.keys.public_key_path)
            champion = record_champion(self.contract, model, reason="serving when the loop started")
        return champion

    def _queue(self) -> Any:
        from bentos.classifier.review_store import open_review_store
        from bentos.classifier.settings import ServerSettings

        return open_review_store(ServerSettings(), self.contract)

    def _labels(self, champion: dict[str, Any]) -> int:
        stats = self._queue().label_statistics(str(champion["digest"]))
        return int(stats.audit_labelled + stats.routed_labelled)

    # -- one pass ----------------------------------------------------------------------------------------
    def reconcile(self) -> dict[str, Any]:
        firing = self.prometheus.firing()  # first: without Prometheus nothing changes
        champion = self._champion()
        from lifecycle.promotions import open_promotion

        promotion = open_promotion(self.contract)
        if promotion is not None:
            self._follow(promotion)
        elif self.state.state in ("awaiting-approval", "shadow"):  # its promotion was rejected or withdrawn
            self.state.move("rejected", "the promotion was rejected")
        else:
            self._watch(firing, champion)
        self.state.save()
        from slipway.audit import slipway_home

        write_loop_metrics(slipway_home() / "metrics" / "loop.prom", self.state, needs_person=self.needs_person)
        return {"state": self.state.state, "reason": self.state.data["reason"], "firing": sorted(firing),
                "champion": champion["tag"], "attempts": self.state.data["attempts"],
                "promotion_id": self.state.data.get("promotion_id"), "needs_person": self.needs_person}  # fmt: skip

    def _watch(self, firing: set[str], champion: dict[str, Any]) -> None:
        triggers = sorted(firing & set(TRIGGERS))
        guards = sorted(firing & set(GUARDS))
        drift = sorted(firing & set(SUSPECT_ONLY))
        data = self.state.data
        if not triggers:
            settled = self.state.state not in ("promoted", "rolled-back")
            if drift:
                self.state.move("suspect", f"drift only ({', '.join(drift)}): watched, not retrained")
            elif settled or _now() - data["since"] > self.settings.cooldown_seconds:  # a promotion shows a while
                data["attempts"] = 0
                self.state.move("serving", "no trigger fires")
            return
        why = ", ".join(triggers)
        if guards:
            self.state.move("suspect", f"{why} fire, but {', '.join(guards)} too: the data cannot be trusted yet")
            return
        if data["last_attempt"] is not None and _now() - data["last_attempt"] < self.settings.cooldown_seconds:
            left = self.settings.cooldown_seconds - (_now() - data["last_attempt"])
            self.state.move(self.state.state if self.state.state == "rejected" else "suspect",
                            f"{why} fire; cool-down after the last attempt: {left:.0f} s left")  # fmt: skip
            return
        if data["attempts"] >= self.settings.max_attempts:
            self.needs_person = True
            self.state.move("rejected", f"{why} fire and {data['attempts']} attempts failed: a person must act")
            return
        labels = self._labels(champion)
        new = labels - int(data.get("labels_at_last_attempt") or 0)
        if new < self.settings.min_new_labels:
            self.state.move("suspect", f"{why} fire; waiting for labels ({new} of {self.settings.min_new_labels} new)")
            return
        data["attempts"] += 1
        data["last_attempt"], data["labels_at_last_attempt"] = _now(), labels
        self.state.move("retraining", f"{why} fire: attempt {data['attempts']}")
        self.state.save()
        self._retrain_and_evaluate(champion)

    def _retrain_and_evaluate(self, champion: dict[str, Any]) -> None:
        from bentos.classifier.artifact import load_verified
        from lifecycle.compare import compare
        from lifecycle.evaluate import CandidateRejected
        from lifecycle.evaluation_report import write_report
        from lifecycle.frozen import directory_for, grow, open_frozen
        from lifecycle.promotions import PromotionRefused, request
        from lifecycle.train import train
        from lifecycle.training_metrics import write_training_metrics
        from slipway.audit import slipway_home

        queue = self._queue()
        audited = _labelled(self.contract, list(queue.resolved_records(exporter=self.who, audit=True)), "audit-sample")
        routed = _labelled(self.contract, list(queue.resolved_records(exporter=self.who, audit=False)), "reviews")
        frozen = open_frozen(directory_for(self.contract), self.contract)
        if frozen is not None and audited is not None:
            frozen = grow(frozen, self.contract, audited)
        data = self._training_data(routed)
        metrics_file = slipway_home() / "metrics" / "training.prom"
        try:
            result = train(self.keys, self.contract, data=data, estimator=self.settings.estimator)
        except CandidateRejected as exc:
            write_training_metrics(metrics_file, outcome="rejected", accuracy=exc.accuracy)
            self.state.move("rejected", f"the retrained candidate was refused: {exc}")
            return
        except BaseException:
            write_training_metrics(metrics_file, outcome="failed")
            raise
        write_training_metrics(metrics_file, outcome="accepted", accuracy=result.metrics["accuracy"])
        self.state.data["candidate"] = {"tag": result.tag, "digest": result.digest}
        self.state.move("evaluating", f"candidate {result.tag} against champion {champion['tag']}")
        self.state.save()
        public_key = self.keys.public_key_path
        challenger = load_verified(result.tag, public_key=public_key)
        serving = load_verified(str(champion["tag"]), public_key=public_key, expected_digest=str(champion["digest"]))
        frozen = open_frozen(directory_for(self.contract), self.contract)
        assert frozen is not None  # training made it
        report = compare(challenger, serving, frozen, self.contract, self.criteria)
        write_report(report, self.directory / "evaluations" / challenger.version)
        if not report["passed"]:
            failed = ", ".join(c["name"] for c in report["checks"] if not c["passed"])
            self.state.move("rejected", f"candidate {result.tag} did not pass: {failed}")
            return
        try:
            promotion = request(self.keys, self.contract, report, self.who)
        except PromotionRefused as exc:
            self.state.move("rejected", f"candidate {result.tag} passed but cannot be requested: {exc}")
            return
        self.state.data["promotion_id"] = promotion.promotion_id
        self.state.move("awaiting-approval", f"{promotion.promotion_id}: {result.tag} passed; another person approves")

    def _training_data(self, routed: Any) -> Path:
        """``--data`` (or the contract's default data) plus people's labels of routed cases, as one file."""
        from lifecycle.data import LabelledData, load_labelled

        base = load_labelled(self.contract, self.settings.data)
        parts = [base] + ([routed] if routed is not None else [])
        frame = pl.concat([p.frame for p in parts], how="vertical_relaxed")
        labels = np.concatenate([p.labels for p in parts])
        combined = LabelledData(frame, labels, "loop")
        path = self.directory / f"training-{int(_now())}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        combined.frame.with_columns(pl.Series(self.contract.label.field, combined.labels.tolist())).write_parquet(path)
        return path

    def _follow(self, promotion: Any) -> None:
        """Move an open promotion on: approved -> shadow -> promoted."""
        from lifecycle import promotions
        from lifecycle.champion import pin_stack, record_champion

        self.state.data["promotion_id"] = promotion.promotion_id
        if promotion.status == "requested":
            self.state.move("awaiting-approval", f"{promotion.promotion_id} waits for another person's approval")
            return
        if promotion.status == "approved":
            promotion = promotions.start_shadow(self.keys, self.contract, promotion, self.who,
                                                seconds=self.criteria.shadow.seconds,
                                                min_records=self.criteria.shadow.min_records)  # fmt: skip
        shadow = promotion.shadow or {}
        digest = promotion.challenger["digest"]
        answered = self.prometheus.value(f'max(slipway_shadow_records_total{{digest="{digest}"}})') or 0.0
        dropped = self.prometheus.value(f'max(slipway_shadow_dropped_total{{digest="{digest}"}})') or 0.0
        elapsed = _now() - float(shadow.get("since", _now()))
        if elapsed < float(shadow.get("seconds", 0)) or answered < float(shadow.get("min_records", 0)):
            self.state.move("shadow", f"{promotion.challenger['tag']} in shadow (SLIPWAY_SHADOW_MODEL): "
                                      f"{answered:.0f} records, {elapsed:.0f} s so far")  # fmt: skip
            return
        if dropped > 0.1 * max(answered, 1.0):
            self.state.move("shadow", f"{promotion.challenger['tag']} dropped {dropped:.0f} records in shadow: "
                                      "not promoted (too slow or failing)")  # fmt: skip
            return
        from bentos.classifier.artifact import load_verified

        model = load_verified(str(promotion.challenger["tag"]), public_key=self.keys.public_key_path,
                              expected_digest=digest)  # fmt: skip
        record_champion(self.contract, model, reason=f"promoted by {promotion.promotion_id}")
        promotions.complete(self.keys, self.contract, promotion, self.who,
                            shadow={"records": answered, "dropped": dropped, "seconds": elapsed})  # fmt: skip
        pinned = f"; pinned in {pin_stack(self.settings.stack, promotion.challenger)}" if self.settings.stack else ""
        self.state.data.update(attempts=0, candidate=None)
        self.state.move("promoted", f"{promotion.challenger['tag']} serves ({promotion.promotion_id}){pinned}")


def _labelled(contract: Contract, records: list[dict[str, Any]], source: str) -> Any:
    """People's labels as LabelledData (None when there are none)."""
    from lifecycle.data import LabelledData

    if not records:
        return None
    frame = pl.DataFrame([{n: r.get(n) for n in contract.input_names} for r in records],
                         schema={f.name: _polars_type(f.type) for f in contract.inputs})  # fmt: skip
    labels = np.asarray([str(r[contract.label.field]) for r in records], dtype=np.str_)
    return LabelledData(frame, labels, source)


def _polars_type(kind: str) -> Any:
    from slipway.columns import POLARS_TYPES

    return POLARS_TYPES[kind]


def status(contract: Contract) -> dict[str, Any]:
    from lifecycle.champion import current_champion, loop_directory
    from lifecycle.promotions import open_promotion

    state = LoopState.load(loop_directory(contract))
    promotion = open_promotion(contract)
    return {"state": state.state, "since": _iso(float(state.data["since"])), "reason": state.data["reason"],
            "attempts": state.data["attempts"], "champion": current_champion(contract),
            "promotion": promotion.summary() if promotion else None,
            "history": state.data["history"][-10:]}  # fmt: skip
