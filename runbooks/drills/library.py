"""The drills, by the names the catalog's failure modes give them (``drill:``).

Each names the alert it must make fire, what it injects and the runbook's mitigation it applies.
Drills still to be written are listed in ``PENDING`` (the coverage test names them).

Usage::

    DRILLS["kill-model-server"]
"""

from __future__ import annotations

import csv

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
    )
}  # fmt: skip
