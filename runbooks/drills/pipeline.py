"""Drills of the pipeline: a source offline, the pipeline stopped, a column renamed, a dirty batch.

A partner's HTTP feed is served from the drill's folder on 127.0.0.1 (the pipeline's own sample CSV);
every run is the real `slipway pipeline run`, whose metrics reach Prometheus through the Pushgateway.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml

from runbooks.drills.drill import Drill, DrillContext

SAMPLE = Path(__file__).resolve().parents[2] / "pipelines" / "samples" / "incoming" / "2026-11-01-clinic-a.csv"
CONTRACT = SAMPLE.parents[3] / "contracts" / "wdbc.yaml"  # the contract the sample is made for
NEW_SPELLING = "{name}_v2"  # the partner's new spelling of a column


def _numeric_features() -> list[Any]:
    """The contract's numeric features with a lower bound of 0 or more (a negative value breaks them)."""
    from slipway.contract import load_contract

    return [f for f in load_contract(str(CONTRACT)).inputs if f.numeric and f.range and f.range[0] >= 0]


def _config(ctx: DrillContext) -> Path:
    config = ctx.workdir / "pipeline.yaml"
    contract = ctx.workdir / "contract.yaml"
    if not contract.exists():  # the drill's own copy: a mitigation may add an alias to it
        contract.write_bytes(CONTRACT.read_bytes())
    config.write_text(
        f"contract: {contract}\n"
        f"sources:\n  - name: partner-feed\n    kind: http\n    url: http://127.0.0.1:{ctx.feed_port}/records.csv\n"
        "    attempts: 1\n    backoff: 0\n    timeout: 5\n"
    )
    return config


def _run(ctx: DrillContext, *, allowed: tuple[int, ...] = (0,), hours_ago: float = 0) -> None:
    ctx.slipway("pipeline", "run", "--config", str(_config(ctx)), "--out", str(ctx.workdir / "pipeline"),
                allowed=allowed, hours_ago=hours_ago)  # fmt: skip


def _publish(ctx: DrillContext, text: str) -> None:
    """What the partner's feed serves from now on."""
    (ctx.workdir / "feed").mkdir(exist_ok=True)
    (ctx.workdir / "feed" / "records.csv").write_text(text, encoding="utf-8")


def _sample() -> list[list[str]]:
    return list(csv.reader(io.StringIO(SAMPLE.read_text(encoding="utf-8-sig"))))


def _as_csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _feed_and_pushgateway(ctx: DrillContext) -> None:
    ctx.slipway("keys", "generate")  # the pipeline encrypts what it quarantines
    ctx.start_pushgateway()
    _publish(ctx, _as_csv(_sample()))
    ctx.serve_feed()  # the partner's feed, healthy


def _healthy_run(ctx: DrillContext) -> None:
    _feed_and_pushgateway(ctx)
    _run(ctx)


# -- a source offline ------------------------------------------------------------------------------
def _unplug_feed_and_run(ctx: DrillContext) -> None:
    ctx.stop("feed")
    _run(ctx, allowed=(3, 4))


def _plug_feed_and_run(ctx: DrillContext) -> None:
    ctx.serve_feed()
    _run(ctx)


# -- the pipeline stopped --------------------------------------------------------------------------
STOPPED_FOR_HOURS = 7


def _last_run_hours_ago(ctx: DrillContext) -> None:
    """The pipeline's last run was seven hours ago (run under libfaketime) and none ran since: its
    CronJob suspended."""
    _run(ctx, hours_ago=STOPPED_FOR_HOURS)


def _run_now(ctx: DrillContext) -> None:
    _run(ctx)


# -- a renamed column ------------------------------------------------------------------------------
def _rename_a_column_and_run(ctx: DrillContext) -> None:
    rows = _sample()
    renamed = _numeric_features()[0].name
    rows[0] = [NEW_SPELLING.format(name=renamed) if name == renamed else name for name in rows[0]]
    _publish(ctx, _as_csv([rows[0], *[[f"{row[0]}-v2", *row[1:]] for row in rows[1:]]]))
    _run(ctx)


def _alias_and_replay(ctx: DrillContext) -> None:
    """The rename is legitimate: the contract accepts the new spelling as an alias, the quarantined
    rows are replayed, and the next run reads the feed cleanly."""
    contract = ctx.workdir / "contract.yaml"
    document = yaml.safe_load(contract.read_text(encoding="utf-8"))
    renamed = _numeric_features()[0].name
    (feature,) = (f for f in document["features"] if f["name"] == renamed)
    feature["aliases"] = [*feature.get("aliases", []), NEW_SPELLING.format(name=renamed)]
    contract.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    replay = ctx.slipway("pipeline", "replay", "--config", str(_config(ctx)), "--out", str(ctx.workdir / "pipeline"))
    recovered = json.loads(replay.stdout)["totals"]["rows_out"]
    if recovered < 100:
        raise AssertionError(f"the replay should recover the renamed batch's rows; it recovered {recovered}")
    _run(ctx)


# -- a dirty batch ---------------------------------------------------------------------------------
def _send_dirty_batch_and_run(ctx: DrillContext) -> None:
    """A batch in which every third record lost a required number and every fifth has another one negative."""
    rows = _sample()
    first, second = (f.name for f in _numeric_features()[:2])
    header, blanked, negative = rows[0], rows[0].index(first), rows[0].index(second)
    dirty = []
    for number, row in enumerate(rows[1:]):
        row = [f"{row[0]}-v2", *row[1:]]
        if number % 3 == 0:
            row[blanked] = ""
        if number % 5 == 0:
            row[negative] = "-" + row[negative]
        dirty.append(row)
    _publish(ctx, _as_csv([header, *dirty]))
    _run(ctx)


def _resend_corrected_and_run(ctx: DrillContext) -> None:
    rows = _sample()
    _publish(ctx, _as_csv([rows[0], *[[f"{row[0]}-v3", *row[1:]] for row in rows[1:]]]))
    _run(ctx)


DRILLS = (
    Drill("unplug-data-source", "DataSourceOffline", "the partner's HTTP feed stopped, then a pipeline run", 0,
          "the feed back, and the pipeline's next run catches up", prepare=_healthy_run,
          inject=_unplug_feed_and_run, mitigate=_plug_feed_and_run, scrape_pushgateway=True),
    Drill("stop-pipeline", "DataStale",
          f"the pipeline's last run {STOPPED_FOR_HOURS} hours ago (libfaketime), none since", 0,
          "a run started now (`slipway pipeline run`, as `kubectl create job --from=cronjob/pipeline`)",
          prepare=_feed_and_pushgateway, inject=_last_run_hours_ago, mitigate=_run_now, scrape_pushgateway=True),
    Drill("rename-source-columns", "SchemaDrift",
          "the partner's feed renames a column (its first number, to <name>_v2), then a pipeline run", 0,
          "the alias added to the contract, `slipway pipeline replay`, then the next run",
          prepare=_healthy_run, inject=_rename_a_column_and_run, mitigate=_alias_and_replay,
          scrape_pushgateway=True),
    Drill("send-dirty-batch", "QuarantineRateHigh",
          "a batch with a third of its records missing a required number and a fifth with another one negative", 0,
          "the partner resends the batch corrected; the next run reads it", prepare=_healthy_run,
          inject=_send_dirty_batch_and_run, mitigate=_resend_corrected_and_run, scrape_pushgateway=True),
)  # fmt: skip
