"""The loop world (``contracts/examples/loopworld.yaml``) for drills about the model's answers: a
model trained on it and served, its cases streamed with their truth kept, and a reviewer who decides
every case that reaches the queue with that truth (routed cases and, at an audit rate of 1, every
automatic decision, blind).

Usage::

    use_loop_world(ctx)                      # the contract; four eyes off (stall-reviewers drills it)
    ctx.train("--data", str(world_data(ctx, "before", cases(1000, 1))))
    stream = Stream(ctx, ordinary, token=ctx.token("dr.review", "reviewer"))
    stream.switch(shifted)                   # what arrives from now on
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from contracts.examples.loop_world import CONTRACT, cases, write_labelled
from runbooks.drills.drill import DrillContext

Labelled = list[tuple[dict[str, Any], str]]
Cases = Callable[[int, int], Labelled]  # (how many, seed) -> cases with their truth


def use_loop_world(ctx: DrillContext) -> None:
    ctx.env.update(SLIPWAY_CONTRACT=str(CONTRACT), SLIPWAY_REVIEW_FOUR_EYES="false")


def world_data(ctx: DrillContext, name: str, labelled: Labelled) -> Path:
    return write_labelled(ctx.workdir / f"{name}.csv", labelled)


def ordinary(n: int, seed: int) -> Labelled:
    return cases(n, seed)


def shifted(n: int, seed: int) -> Labelled:
    """After the label shift: channel b is 60 % of the traffic and its edge moved (the loop world)."""
    return cases(n, seed, shift=True)


class Stream:
    """``batch`` cases every 0.25 s with request ids; with a ``token``, that reviewer decides each case
    that reaches the queue with its truth. Runs until the drill ends."""

    def __init__(self, ctx: DrillContext, make: Cases, *, batch: int = 10, token: str | None = None) -> None:
        self.ctx, self.make, self.batch, self.token = ctx, make, batch, token
        self.truth: dict[tuple[str, int], str] = {}
        self.labelled = 0
        self._seeds = itertools.count(1000)
        self._threads = [threading.Thread(target=self._send, daemon=True)]
        if token:
            self._threads.append(threading.Thread(target=self._label, daemon=True))
        for thread in self._threads:
            thread.start()
        ctx.on_close(self._join)

    def switch(self, make: Cases) -> None:
        self.make = make

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ctx.server_port}{path}"  # read each time: a rollout moves it

    def _send(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.ctx.stopped.wait(0.25):
                seed = next(self._seeds)
                labelled, request_id = self.make(self.batch, seed), f"drill-{seed}"
                self.truth.update({(request_id, i): truth for i, (_, truth) in enumerate(labelled)})
                try:
                    body = {"records": [r for r, _ in labelled], "request_id": request_id}
                    client.post(self._url("/predict"), json=body)
                except httpx.HTTPError:
                    continue  # a restarting server is part of some drills

    def _label(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(headers=headers, timeout=30) as client:
            while not self.ctx.stopped.wait(0.3):
                try:
                    items = client.post(self._url("/review/pending"), json={"limit": 200}).json().get("items", [])
                    for item in items:
                        truth = self.truth.get((item["request_id"], item["item"]))
                        if truth is None or self.ctx.stopped.is_set():
                            continue
                        claimed = client.post(self._url("/review/claim"), json={"review_id": item["review_id"]}).json()
                        if "version" in claimed:
                            decision = {"review_id": item["review_id"], "label": truth,
                                        "version": claimed["version"], "note": "drill"}  # fmt: skip
                            client.post(self._url("/review/resolve"), json=decision)
                            self.labelled += 1
                except (httpx.HTTPError, ValueError):
                    continue  # the server restarting: the next round finds the queue again

    def _join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=30)


def borderline(n: int, seed: int) -> Labelled:
    """A site whose cases all sit near the decision boundary (x1 ~ N(0, 0.25))."""
    return cases(n, seed, x1=np.random.default_rng(seed + 1).normal(0.0, 0.25, n))


def rescaled(n: int, seed: int) -> Labelled:
    """A unit change upstream: x1 arrives divided by ten."""
    return [({**record, "x1": round(record["x1"] / 10, 5)}, truth) for record, truth in cases(n, seed)]


def all_high(n: int, seed: int) -> Labelled:
    """A population whose signal is high (x1 + 3): nearly every case is a yes."""
    return cases(n, seed, x1=np.random.default_rng(seed + 1).normal(3.0, 1.5, n))


def shifted_borderline_b(n: int, seed: int) -> Labelled:
    """Channel b after the shift, 0 < x1 < 0.35: the model answers yes with 50-80 % confidence (routed
    as low confidence), and people find almost all of them are no."""
    return cases(n, seed, shift=True, x1=np.random.default_rng(seed + 1).uniform(0.0, 0.35, n), channel="b")
