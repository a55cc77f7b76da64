"""Concurrent /predict requests scored together, on the server's event loop.

A request is validated on its own (its errors are its own), then waits for the next batch: the
records of every request that reached this point while the loop was busy go through the model,
routing, drift and estimates in one call — the model costs about the same for 1 row as for 256, so
under load the per-request cost falls instead of queueing. There is no fixed delay: the batch
closes as soon as a pass of the event loop brings no new request (or it holds ``max_rows``
records, or ``max_wait`` passed), so a lone request is answered at once.

Each answer still waits for its batch's review writes: a routed record is never answered as final,
and "review" only once its record is durable. The batch's routed records go to the store in one
submission (which group-commits them with any other waiting writes), and the writer's one
completion wakes every request of the batch that waits for it.

Usage::

    batcher = PredictionBatcher(runtime, max_rows=256)
    status, body = await batcher.predict({"record": {...}}, request_id=None)
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from bentos.classifier.review_queue import ReviewStoreUnavailable
from bentos.classifier.runtime import Answer, ModelRuntime, Prepared, Scored, Written

# A request's place in a batch: its scored records and, when it has routed records, where the
# batch's review writes report.
Place = asyncio.Future[tuple[Scored, "asyncio.Future[Written] | None"]]


@dataclass
class PredictionBatcher:
    runtime: ModelRuntime
    max_rows: int = 256
    max_wait: float = 0.005  # seconds a batch may stay open while requests keep arriving
    _waiting: list[tuple[Prepared, Place]] = field(default_factory=list)
    _rows: int = 0
    _opened: float = 0.0
    _seen: int = 0
    _scheduled: bool = False

    async def predict(self, payload: dict[str, object], request_id: str | None) -> Answer:
        prepared = self.runtime.prepare(payload, request_id)
        if not isinstance(prepared, Prepared):
            return prepared
        loop = asyncio.get_running_loop()
        scored: Place = loop.create_future()
        self._waiting.append((prepared, scored))
        self._rows += len(prepared.rows)
        if self._rows >= self.max_rows:
            self._close()
        elif not self._scheduled:
            self._scheduled, self._opened, self._seen = True, time.monotonic(), len(self._waiting)
            loop.call_soon(self._tick)
        result, written = await scored
        return self.runtime.answer(result, None if written is None else await written)

    def _tick(self) -> None:
        """One pass of the loop later: keep the batch open while requests are still arriving."""
        if not self._scheduled:
            return  # closed meanwhile (it filled up)
        growing = len(self._waiting) > self._seen
        if growing and time.monotonic() - self._opened < self.max_wait:
            self._seen = len(self._waiting)
            asyncio.get_running_loop().call_soon(self._tick)
            return
        self._close()

    def _close(self) -> None:
        batch, self._waiting, self._rows, self._scheduled = self._waiting, [], 0, False
        if not batch:
            return
        try:
            scored = self.runtime.score([prepared for prepared, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting request gets the failure, none hangs
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        loop = asyncio.get_running_loop()
        waiters: list[asyncio.Future[Written]] = []
        for (_, future), result in zip(batch, scored.requests, strict=True):
            written = None
            if result.review_slots and scored.written is not None:
                written = loop.create_future()
                waiters.append(written)
            if not future.done():  # its caller may have gone (a cancelled request)
                future.set_result((result, written))
        if scored.written is not None and waiters:
            scored.written.add_done_callback(lambda done: loop.call_soon_threadsafe(_settle, done, waiters))


def _settle(done: Future[list[str]], waiters: list[asyncio.Future[Written]]) -> None:
    """On the loop: the batch's review writes finished; every request waiting for them learns how."""
    failure = done.exception()
    outcome: Written = done.result() if failure is None else (
        failure if isinstance(failure, ReviewStoreUnavailable) else ReviewStoreUnavailable(str(failure)))  # fmt: skip
    for waiter in waiters:
        if not waiter.done():  # its caller may have gone
            waiter.set_result(outcome)
