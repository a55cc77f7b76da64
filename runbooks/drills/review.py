"""Drills of the review queue: nobody deciding, and the shared review store (PostgreSQL) going down."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

from runbooks.drills.drill import Drill, DrillContext
from slipway.local_postgres import LocalPostgres


def _serving_with_a_reviewer(ctx: DrillContext) -> None:
    ctx.train()
    ctx.start_dev_issuer()
    ctx.start_model_server()


def _backdate_a_waiting_case(ctx: DrillContext) -> None:
    """A routed case left waiting five hours (its creation time moved back in the real store)."""
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


# -- the shared store ------------------------------------------------------------------------------
def _serving_on_postgres(ctx: DrillContext) -> None:
    """The server on a real PostgreSQL review store (outside the drill's folder: the `postgres` user
    must reach its data directory), with traffic of which some is routed to people."""
    root = Path(tempfile.mkdtemp(prefix="slipway-drill-pg-"))
    ctx.on_close(lambda: shutil.rmtree(root, ignore_errors=True))
    database = LocalPostgres(root).__enter__()
    ctx.on_close(database.stop)
    ctx.held["postgres"] = database
    ctx.train()
    ctx.start_model_server(SLIPWAY_REVIEW_QUEUE=database.dsn)
    ctx.keep_sending(ctx.records(20, seed=9))  # high-stakes predictions among them: written to the store


def _stop_the_database(ctx: DrillContext) -> None:
    database: LocalPostgres = ctx.held["postgres"]
    database.stop()


def _start_the_database(ctx: DrillContext) -> None:
    database: LocalPostgres = ctx.held["postgres"]
    database.start()


DRILLS = (
    Drill("stall-reviewers", "ReviewBacklogPastSLA",
          "routed cases left waiting five hours (backdated in the real store)", 0,
          "reviewers decide them (`slipway review resolve`, four eyes)", prepare=_serving_with_a_reviewer,
          inject=_backdate_a_waiting_case, mitigate=_decide_the_waiting, scrape_server=True),
    Drill("break-review-store", "ReviewStoreUnavailable",
          "the shared review store's PostgreSQL stopped (pg_ctl stop -m fast) under traffic", 0,
          "PostgreSQL started again; the server reconnects by itself", prepare=_serving_on_postgres,
          inject=_stop_the_database, mitigate=_start_the_database, scrape_server=True),
)  # fmt: skip
