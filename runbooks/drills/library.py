"""The drills, by the names the catalog's failure modes give them (``drill:``).

Each names the alert it must make fire, what it injects and the runbook's mitigation it applies.
Drills still to be written are listed in ``PENDING`` (the coverage test names them).

Usage::

    DRILLS["kill-model-server"]
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from runbooks.drills.drill import Drill, DrillContext


def _nothing(ctx: DrillContext) -> None:
    return None


def _serving(ctx: DrillContext) -> None:
    ctx.train()
    ctx.start_model_server()


def _kill_server(ctx: DrillContext) -> None:
    ctx.stop("model-server")


def _restart_server(ctx: DrillContext) -> None:
    ctx.start_model_server()


def _trained_with_pushgateway(ctx: DrillContext) -> None:
    ctx.start_pushgateway()
    ctx.train()  # a good run first: the alert is quiet before the failure


def _train_on_scrambled_labels(ctx: DrillContext) -> None:
    """Labels shuffled against their records: the candidate falls below min_accuracy and is refused."""
    import numpy as np
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


# -- the model's inputs ------------------------------------------------------------------------------
DRIFT_ENV = {"SLIPWAY_DRIFT_WINDOW": "300", "SLIPWAY_DRIFT_MIN_SAMPLES": "100", "SLIPWAY_DRIFT_PUBLISH_SECONDS": "0"}


def _serving_with_small_drift_window(ctx: DrillContext) -> None:
    ctx.train()
    ctx.start_model_server(**DRIFT_ENV)
    ctx.predict(ctx.records(300, seed=1))  # a full window of ordinary traffic: the gauges exist and are low


def _first_number_scaled(ctx: DrillContext, factor: float, count: int, seed: int) -> list[dict[str, Any]]:
    """Records whose first numeric input is multiplied by ``factor`` (a unit change upstream)."""
    from slipway.contract import load_contract

    first = next(f.name for f in load_contract(ctx.env.get("SLIPWAY_CONTRACT")).inputs if f.numeric)
    return [{**r, first: r[first] * factor} for r in ctx.records(count, seed)]


def _send_shifted_feature(ctx: DrillContext) -> None:
    ctx.predict(_first_number_scaled(ctx, 1.6, 300, seed=2))


def _send_ordinary(ctx: DrillContext) -> None:
    ctx.predict(ctx.records(300, seed=3))


def _every_number_scaled(ctx: DrillContext, factor: float, count: int) -> list[dict[str, Any]]:
    from slipway.contract import load_contract

    numbers = [f.name for f in load_contract(ctx.env.get("SLIPWAY_CONTRACT")).inputs if f.numeric]
    return [{**r, **{n: r[n] * factor for n in numbers}} for r in ctx.records(count, seed=4)]


def _stream_out_of_distribution(ctx: DrillContext) -> None:
    ctx.keep_sending(_every_number_scaled(ctx, 1.5, 20))  # within the contract's ranges, beyond training's


def _stream_ordinary(ctx: DrillContext) -> None:
    ctx.keep_sending(ctx.records(20, seed=5))


def _serving_with_ordinary_traffic(ctx: DrillContext) -> None:
    ctx.train()
    ctx.start_model_server()
    ctx.keep_sending(ctx.records(20, seed=5))


# -- the model artifact --------------------------------------------------------------------------------
def _card(ctx: DrillContext) -> Path:
    (card,) = (ctx.workdir / "bentoml" / "models").glob("classifier/*/card.json")
    return card


def _tamper_and_restart(ctx: DrillContext) -> None:
    """One byte of the signed card changed in the model store; the server refuses it at start."""
    card = _card(ctx)
    (ctx.workdir / "card.json.original").write_bytes(card.read_bytes())
    card.write_text(card.read_text().replace('"schema"', '"schema" ', 1))
    ctx.stop("model-server")
    ctx.start_model_server()  # alive (/livez) but not ready: the signature does not verify


def _restore_and_restart(ctx: DrillContext) -> None:
    _card(ctx).write_bytes((ctx.workdir / "card.json.original").read_bytes())
    ctx.stop("model-server")
    ctx.start_model_server()


# -- the review queue ----------------------------------------------------------------------------------
def _serving_with_a_reviewer(ctx: DrillContext) -> None:
    ctx.train()
    ctx.start_dev_issuer()
    ctx.start_model_server()


def _backdate_a_waiting_case(ctx: DrillContext) -> None:
    """A routed case left waiting five hours (its creation time moved back in the real store)."""
    import sqlite3

    ctx.predict(ctx.records(20, seed=6))  # among them high-stakes ones: routed to a person
    with sqlite3.connect(ctx.workdir / "home" / "review" / "queue.db") as db:
        db.execute("UPDATE reviews SET created = created - 5 * 3600 WHERE status = 'pending'")


def _decide_the_waiting(ctx: DrillContext) -> None:
    """The runbook: staff the queue. A reviewer decides every waiting case, and a second reviewer
    confirms the high-stakes ones (four eyes)."""
    for subject, role in (("dr.first", "reviewer"), ("dr.second", "second-reviewer")):
        token = ctx.token(subject, role)
        for item in json.loads(ctx.slipway("review", "list", SLIPWAY_TOKEN=token).stdout)["items"]:
            ctx.slipway("review", "resolve", item["review_id"], "--label", item["prediction"], "--note", "drill",
                        SLIPWAY_TOKEN=token)  # fmt: skip


# -- the pipeline --------------------------------------------------------------------------------------
def _pipeline_config(ctx: DrillContext) -> Path:
    config = ctx.workdir / "pipeline.yaml"
    config.write_text(
        f"sources:\n  - name: partner-feed\n    kind: http\n    url: http://127.0.0.1:{ctx.feed_port}/records.csv\n"
        "    attempts: 1\n    backoff: 0\n    timeout: 5\n"
    )
    return config


def _pushgateway_only(ctx: DrillContext) -> None:
    ctx.slipway("keys", "generate")  # the pipeline encrypts what it quarantines
    ctx.start_pushgateway()
    ctx.serve_feed()  # the partner's feed, healthy
    ctx.slipway("pipeline", "run", "--config", str(_pipeline_config(ctx)), "--out", str(ctx.workdir / "pipeline"))


def _unplug_feed_and_run(ctx: DrillContext) -> None:
    ctx.stop("feed")
    ctx.slipway("pipeline", "run", "--config", str(_pipeline_config(ctx)), "--out", str(ctx.workdir / "pipeline"),
                allowed=(3, 4))  # fmt: skip


def _plug_feed_and_run(ctx: DrillContext) -> None:
    ctx.serve_feed()
    ctx.slipway("pipeline", "run", "--config", str(_pipeline_config(ctx)), "--out", str(ctx.workdir / "pipeline"))


DRILLS = {
    drill.name: drill
    for drill in (
        Drill("watchdog", "Watchdog", "nothing: the alert always fires", "none: it must keep arriving",
              prepare=_nothing, inject=_nothing, mitigate=None),
        Drill("kill-model-server", "ModelServerDown", "the model server's process group stopped (SIGTERM)",
              "start it again (the Deployment replaces the pod; `pulumi up` after a fix)",
              prepare=_serving, inject=_kill_server, mitigate=_restart_server, scrape_server=True),
        Drill("reject-candidate", "RetrainingFailed", "`slipway train` on labels scrambled against their records",
              "retrain on sound labels (`slipway train --data <labels>`)",
              prepare=_trained_with_pushgateway, inject=_train_on_scrambled_labels, mitigate=_train_again,
              scrape_pushgateway=True),
        Drill("shift-feature-distribution", "FeatureDrift",
              "300 records with the first numeric input multiplied by 1.6 (a unit change upstream)",
              "once the feed is fixed, ordinary traffic refills the drift window",
              prepare=_serving_with_small_drift_window, inject=_send_shifted_feature, mitigate=_send_ordinary,
              scrape_server=True),
        Drill("send-out-of-distribution", "OutOfDistributionSurge", "a stream of records with every number x4",
              "the sender fixed: ordinary records again",
              prepare=_serving_with_ordinary_traffic, inject=_stream_out_of_distribution, mitigate=_stream_ordinary,
              scrape_server=True),
        Drill("tamper-model-artifact", "ModelSignatureInvalid", "one byte of the signed model card changed, then a "
              "restart", "restore the signed artifact and restart", prepare=_serving, inject=_tamper_and_restart,
              mitigate=_restore_and_restart, scrape_server=True),
        Drill("stall-reviewers", "ReviewBacklogPastSLA",
              "routed cases left waiting five hours (backdated in the real store)",
              "reviewers decide them (`slipway review resolve`, four eyes)", prepare=_serving_with_a_reviewer,
              inject=_backdate_a_waiting_case, mitigate=_decide_the_waiting, scrape_server=True),
        Drill("unplug-data-source", "DataSourceOffline", "the partner's HTTP feed stopped, then a pipeline run",
              "the feed back, and the pipeline run again", prepare=_pushgateway_only, inject=_unplug_feed_and_run,
              mitigate=_plug_feed_and_run, scrape_pushgateway=True),
    )
}  # fmt: skip
