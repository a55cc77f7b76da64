"""Drills of the model's inputs and answers: a shifted feature, out-of-distribution records, inputs the
model is unsure about, a population whose predictions move."""

from __future__ import annotations

from typing import Any

from runbooks.drills.drill import Drill, DrillContext
from runbooks.drills.world import Stream, all_high, ordinary, rescaled, use_loop_world, world_data

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


# -- the loop world: the model's confidence and its answers -----------------------------------------
def _loop_world_streaming(ctx: DrillContext, **env: str) -> None:
    use_loop_world(ctx)
    ctx.train("--data", str(world_data(ctx, "before", ordinary(1000, 1))))
    ctx.start_model_server(**env)
    ctx.held["stream"] = Stream(ctx, ordinary)


def _streaming(ctx: DrillContext) -> None:
    _loop_world_streaming(ctx)


def _switch(make: Any) -> Any:
    def step(ctx: DrillContext) -> None:
        stream: Stream = ctx.held["stream"]
        stream.switch(make)

    step.__doc__ = make.__doc__
    return step


def _streaming_with_small_drift_window(ctx: DrillContext) -> None:
    _loop_world_streaming(ctx, **DRIFT_ENV)


def _retrain_on_the_new_population(ctx: DrillContext) -> None:
    """The population really changed: a model retrained on labelled cases of it serves (its training
    data is the new reference the PSI compares with)."""
    tag = ctx.train("--data", str(world_data(ctx, "new-population", all_high(1000, 2))))
    ctx.roll_out(SLIPWAY_MODEL=tag, **DRIFT_ENV)


DRILLS = (
    Drill("shift-feature-distribution", "FeatureDrift",
          "300 records with the first numeric input multiplied by 1.6 (a unit change upstream)", 0,
          "once the feed is fixed, ordinary traffic refills the drift window",
          prepare=_serving_with_small_drift_window, inject=_send_shifted_feature, mitigate=_send_ordinary,
          scrape_server=True),
    Drill("send-out-of-distribution", "OutOfDistributionSurge", "a stream of records with every number x1.5", 0,
          "the sender fixed: ordinary records again", prepare=_serving_with_ordinary_traffic,
          inject=_stream_out_of_distribution, mitigate=_stream_ordinary, scrape_server=True),
    Drill("shift-inputs-low-confidence", "LowConfidenceSpike",
          "the loop world's signal x1 arrives divided by ten (a unit change upstream): most cases look borderline",
          1, "the feed fixed upstream: ordinary cases again", prepare=_streaming, inject=_switch(rescaled),
          mitigate=_switch(ordinary), scrape_server=True),
    Drill("shift-prediction-distribution", "PredictionDrift",
          "the population moves: x1 three units higher, nearly every case a yes", 1,
          "a model retrained on labelled cases of the new population serves",
          prepare=_streaming_with_small_drift_window, inject=_switch(all_high),
          mitigate=_retrain_on_the_new_population, scrape_server=True),
)  # fmt: skip
