"""Drills of the model server: stopped, failing on one replica, throttled, refusing a changed artifact."""

from __future__ import annotations

from pathlib import Path

from runbooks.drills.cpu import CpuLimit
from runbooks.drills.drill import Drill, DrillContext


def serving(ctx: DrillContext) -> None:
    ctx.train()
    ctx.start_model_server()


def _kill_server(ctx: DrillContext) -> None:
    ctx.stop("model-server")


def _restart_server(ctx: DrillContext) -> None:
    ctx.start_model_server()


# -- one of two replicas failing -------------------------------------------------------------------
def _two_replicas_with_traffic(ctx: DrillContext) -> None:
    """Two replicas (each with its own file queue) behind round-robin traffic, both scraped."""
    ctx.train()
    ctx.start_model_server()
    _start_replica(ctx)
    ctx.keep_sending(ctx.records(20, seed=7), ports=[ctx.server_port, ctx.replica_port])


def _start_replica(ctx: DrillContext, **env: str) -> None:
    queue = ctx.workdir / "replica-b" / "queue.db"
    queue.parent.mkdir(exist_ok=True)
    ctx.start_server_as("replica-b", ctx.replica_port, {"SLIPWAY_REVIEW_QUEUE": str(queue), **env})


def _roll_out_a_wrong_pin(ctx: DrillContext) -> None:
    """A rollout reaches one replica with a model digest pin that matches no artifact: it refuses the
    model and answers 503 to its share of /predict."""
    ctx.stop("replica-b")
    _start_replica(ctx, SLIPWAY_MODEL_DIGEST="sha256:" + "0" * 64)


def _roll_back_the_replica(ctx: DrillContext) -> None:
    ctx.stop("replica-b")
    _start_replica(ctx)


# -- throttled -------------------------------------------------------------------------------------
THROTTLED_CPUS = 0.02


def _serving_with_traffic(ctx: DrillContext) -> None:
    serving(ctx)
    ctx.keep_sending(ctx.records(100, seed=8))


def _throttle(ctx: DrillContext) -> None:
    """The server's processes under a CFS quota of 2 % of a CPU: a pod throttled at its CPU limit."""
    limit = CpuLimit.create("drill-slow")
    ctx.on_close(limit.remove)
    if not limit.add_tree(ctx.process("model-server").pid):
        raise RuntimeError("no model-server process to throttle")
    limit.set(THROTTLED_CPUS)
    ctx.held["cpu_limit"] = limit


def _raise_the_limit(ctx: DrillContext) -> None:
    limit: CpuLimit = ctx.held["cpu_limit"]
    limit.set(None)


# -- the artifact ----------------------------------------------------------------------------------
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


DRILLS = (
    Drill("kill-model-server", "ModelServerDown", "the model server's process group stopped (SIGTERM)", 3,
          "the server started again, as `pulumi up` restores the Deployment's replicas", prepare=serving,
          inject=_kill_server, mitigate=_restart_server, scrape_server=True),
    Drill("inject-server-errors", "ModelErrorBudgetBurn",
          "a rollout pins a wrong model digest on one of two replicas: it answers 503 to half the traffic", 1,
          "that replica rolled back to the last good settings", prepare=_two_replicas_with_traffic,
          inject=_roll_out_a_wrong_pin, mitigate=_roll_back_the_replica, scrape_server=True),
    Drill("slow-model-server", "ModelLatencyBudgetBurn",
          f"the server's processes throttled by a cgroup CPU quota of {THROTTLED_CPUS:.0%} of a CPU", 1,
          "the quota lifted (a higher CPU limit)", prepare=_serving_with_traffic, inject=_throttle,
          mitigate=_raise_the_limit, scrape_server=True),
    Drill("tamper-model-artifact", "ModelSignatureInvalid",
          "one byte of the signed model card changed, then a restart", 1,
          "the signed artifact restored and the server restarted", prepare=serving, inject=_tamper_and_restart,
          mitigate=_restore_and_restart, scrape_server=True),
)  # fmt: skip
