"""Drills of the model loop: a refused retraining, an estimate that drops, calibration that breaks, the
audit sample that shows a failing model, a retrained candidate that fails, a promotion nobody approves.

The label-driven ones run on the loop world (``runbooks.drills.world``) with a reviewer deciding every
case that reaches the queue; their rules run 3600x faster than real time (a 24-hour audit window is
24 s), the others 600x.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from runbooks.drills.drill import Drill, DrillContext
from runbooks.drills.world import (
    Stream,
    borderline,
    ordinary,
    shifted,
    shifted_borderline_b,
    use_loop_world,
    world_data,
)

LABELS_FACTOR = 3600
LOOP_ENV = {"SLIPWAY_LOOP_COOLDOWN_SECONDS": "0", "SLIPWAY_LOOP_MIN_NEW_LABELS": "0"}  # no waiting in a drill


# -- retraining refused (the wdbc model) ------------------------------------------------------------
def _trained_with_pushgateway(ctx: DrillContext) -> None:
    ctx.start_pushgateway()
    ctx.train()  # a good run first: the alert is quiet before the failure


def _train_on_scrambled_labels(ctx: DrillContext) -> None:
    """Labels shuffled against their records: the candidate falls below min_accuracy and is refused."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    labels = np.random.default_rng(0).permutation(data.target)
    path = ctx.workdir / "scrambled.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*map(str, data.feature_names), "diagnosis"])
        for row, label in zip(data.data.tolist(), labels.tolist(), strict=True):
            writer.writerow([*row, "B" if label else "M"])
    ctx.train("--data", str(path), allowed=(1,))


def _train_again(ctx: DrillContext) -> None:
    ctx.train()


# -- the loop world ---------------------------------------------------------------------------------
def _loop_world(ctx: DrillContext, *, audit_rate: float, label: bool, pushgateway: bool = False) -> None:
    """The champion trained on the world before the shift, served, cases streaming; with ``label``,
    dr.review decides every case that reaches the queue."""
    use_loop_world(ctx)
    ctx.env.update(LOOP_ENV)
    ctx.held["audit_rate"] = str(audit_rate)
    if pushgateway:
        ctx.start_pushgateway()
    ctx.start_dev_issuer()
    ctx.train("--data", str(world_data(ctx, "before", ordinary(1000, 1))))
    ctx.start_model_server(SLIPWAY_AUDIT_SAMPLE_RATE=str(audit_rate))
    ctx.held["stream"] = Stream(ctx, ordinary, token=ctx.token("dr.review", "reviewer") if label else None)


def _stream(ctx: DrillContext) -> Stream:
    stream: Stream = ctx.held["stream"]
    return stream


def _retrain_on_the_shifted_world_and_serve(ctx: DrillContext) -> None:
    """A model retrained on labelled cases of the world after the shift serves. (The loop gets there
    through a promotion another admin approves; reject-retrained-candidate and
    leave-promotion-unapproved drill that path. Labels count per model digest, so the new model
    starts its own.)"""
    tag = ctx.train("--data", str(world_data(ctx, "after", shifted(1000, 3))))
    ctx.roll_out(SLIPWAY_MODEL=tag, SLIPWAY_AUDIT_SAMPLE_RATE=ctx.held["audit_rate"])


def _streaming(ctx: DrillContext) -> None:
    _loop_world(ctx, audit_rate=0, label=False)


def _streaming_labelled(ctx: DrillContext) -> None:
    _loop_world(ctx, audit_rate=0, label=True)


def _streaming_audited(ctx: DrillContext) -> None:
    _loop_world(ctx, audit_rate=1, label=True)


def _streaming_audited_with_pushgateway(ctx: DrillContext) -> None:
    _loop_world(ctx, audit_rate=1, label=True, pushgateway=True)


def _switch_to(make: Any) -> Any:
    def step(ctx: DrillContext) -> None:
        _stream(ctx).switch(make)

    step.__doc__ = make.__doc__
    return step


# -- the loop itself --------------------------------------------------------------------------------
HOLD_SECONDS = 6.0  # a trigger firing this long without a break: the loop will see it too


def _firing(ctx: DrillContext, alert: str, timeout: float = 120.0) -> None:
    """Wait until Prometheus has had ``alert`` firing for HOLD_SECONDS without a break: the loop
    reads its triggers there, and a trigger that has only just crossed its threshold may flicker."""
    deadline, since = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if alert in ctx.local_prometheus().firing():
            since = since or time.monotonic()
            if time.monotonic() - since >= HOLD_SECONDS:
                return
        else:
            since = None
        ctx.stopped.wait(0.5)
    raise TimeoutError(f"{alert} did not fire steadily in the drill's Prometheus within {timeout:.0f} s")


def _reconcile_to(ctx: DrillContext, state: str, why: str, data: Path | None, hours_ago: float = 0) -> dict[str, Any]:
    """`slipway loop reconcile` until the loop reaches ``state``, at most three passes, as its schedule
    would run it again (a pass that finds its trigger gone for a moment only marks the model suspect)."""
    for attempt in range(3):
        outcome = _reconcile(ctx, data, hours_ago=hours_ago)
        if outcome["state"] != "suspect" or attempt == 2:
            break
        ctx.stopped.wait(2.0)
    _expect(ctx, outcome, state, why)
    return outcome


def _token_file(ctx: DrillContext, name: str, subject: str, hours_ago: float = 0) -> Path:
    path = ctx.workdir / f"{name}.jwt"
    result = ctx.slipway("auth", "token", "--subject", subject, "--role", "admin", hours_ago=hours_ago)
    path.write_text(result.stdout.strip().splitlines()[-1])
    return path


def _reconcile(ctx: DrillContext, data: Path | None, hours_ago: float = 0) -> dict[str, Any]:
    """`slipway loop reconcile` against the drill's Prometheus, as the loop's own identity."""
    token = _token_file(ctx, "loop", "svc.loop", hours_ago=hours_ago)
    extra = ["--data", str(data)] if data else []
    result = ctx.slipway("loop", "reconcile", "--prometheus", ctx.prometheus_url, "--token-file", str(token), *extra,
                         hours_ago=hours_ago)  # fmt: skip
    outcome: dict[str, Any] = json.loads(result.stdout)
    ctx.held.setdefault("reconciled", []).append(outcome)
    return outcome


def _expect(ctx: DrillContext, outcome: dict[str, Any], state: str, why: str) -> None:
    """The loop's state after a reconcile; otherwise the failure says why and what fired."""
    if outcome["state"] != state:
        firing = ", ".join(sorted(ctx.local_prometheus().firing()))
        raise AssertionError(f"{why}: the loop is {outcome['state']} ({outcome['reason']}); the drill's "
                             f"Prometheus fires {firing}")  # fmt: skip


def _scrambled_world(ctx: DrillContext) -> Path:
    labelled = shifted(1000, 4)
    truths = np.random.default_rng(0).permutation([t for _, t in labelled]).tolist()
    return world_data(ctx, "scrambled", [(r, t) for (r, _), t in zip(labelled, truths, strict=True)])


def _retrain_on_scrambled_labels(ctx: DrillContext) -> None:
    """The world shifts; AuditAccuracyLow fires; the loop retrains on data whose labels were
    scrambled against their records: the candidate is refused and the loop is in state rejected."""
    _stream(ctx).switch(shifted)
    _firing(ctx, "AuditAccuracyLow")
    _reconcile_to(ctx, "rejected", "the loop should have rejected its candidate", _scrambled_world(ctx))


def _retrain_on_fresh_data(ctx: DrillContext) -> None:
    _reconcile_to(ctx, "awaiting-approval", "a candidate trained on fresh labels should pass and wait for approval",
                  world_data(ctx, "fresh", shifted(1000, 3)))  # fmt: skip


UNAPPROVED_FOR_HOURS = 25


def _request_a_promotion_a_day_ago(ctx: DrillContext) -> None:
    """The world shifts; AuditAccuracyLow fires; the loop retrains, the candidate passes and its
    promotion is requested - 25 hours ago (the loop run under libfaketime) - and nobody approved it."""
    _stream(ctx).switch(shifted)
    _firing(ctx, "AuditAccuracyLow")
    outcome = _reconcile_to(ctx, "awaiting-approval", "the loop should have requested a promotion",
                            world_data(ctx, "fresh", shifted(1000, 3)), hours_ago=UNAPPROVED_FOR_HOURS)  # fmt: skip
    ctx.held["promotion"] = outcome["promotion_id"]


def _another_admin_approves(ctx: DrillContext) -> None:
    admin = _token_file(ctx, "admin", "dr.admin")
    ctx.slipway("promote", "approve", str(ctx.held["promotion"]), "--reason", "evaluation report read (drill)",
                "--token-file", str(admin))  # fmt: skip
    _expect(ctx, _reconcile(ctx, None), "shadow", "the approved promotion should move to shadow")


DRILLS = (
    Drill("reject-candidate", "RetrainingFailed", "`slipway train` on labels scrambled against their records", 0,
          "retrained on sound labels (`slipway train`)", prepare=_trained_with_pushgateway,
          inject=_train_on_scrambled_labels, mitigate=_train_again, scrape_pushgateway=True),
    Drill("estimated-accuracy-drop", "EstimatedAccuracyLow",
          "a new site whose cases all sit near the decision boundary (loop world x1 ~ N(0, 0.25))", 1,
          "the feed fixed: ordinary cases again", prepare=_streaming, inject=_switch_to(borderline),
          mitigate=_switch_to(ordinary), scrape_server=True),
    Drill("break-calibration", "CalibrationBroken",
          "the label relationship shifts in channel b; its borderline cases are routed and people label them",
          0, "a model retrained on the shifted world's labels serves", prepare=_streaming_labelled,
          inject=_switch_to(shifted_borderline_b), mitigate=_retrain_on_the_shifted_world_and_serve,
          scrape_server=True, factor=LABELS_FACTOR),
    Drill("audit-accuracy-drop", "AuditAccuracyLow",
          "the label relationship shifts in channel b; every automatic decision is audited and labelled", 2,
          "a model retrained on the shifted world's labels serves", prepare=_streaming_audited,
          inject=_switch_to(shifted), mitigate=_retrain_on_the_shifted_world_and_serve, scrape_server=True,
          factor=LABELS_FACTOR),
    Drill("reject-retrained-candidate", "RetrainingRejected",
          "AuditAccuracyLow fires and `slipway loop reconcile` retrains on labels scrambled against their records",
          1, "`slipway loop reconcile --data` with fresh labelled records: the candidate passes",
          prepare=_streaming_audited_with_pushgateway, inject=_retrain_on_scrambled_labels,
          mitigate=_retrain_on_fresh_data, scrape_server=True, scrape_pushgateway=True, factor=LABELS_FACTOR),
    Drill("leave-promotion-unapproved", "PromotionAwaitingApproval",
          f"the loop's promotion request made {UNAPPROVED_FOR_HOURS} hours ago (libfaketime), never approved", 0,
          "another admin approves (`slipway promote approve`), the loop moves it to shadow",
          prepare=_streaming_audited_with_pushgateway, inject=_request_a_promotion_a_day_ago,
          mitigate=_another_admin_approves, scrape_server=True, scrape_pushgateway=True, factor=LABELS_FACTOR),
)  # fmt: skip
