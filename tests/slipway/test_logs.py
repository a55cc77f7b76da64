"""Structured logs: handed over without waking anyone, written in order, errors at once, none lost at exit."""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import time

from slipway.logs import BatchedWriter, JsonLines, _Pending


def _logger(name: str, records: _Pending) -> logging.Logger:
    logger = logging.getLogger(f"slipway.test.{name}")
    logger.handlers = [logging.handlers.QueueHandler(records)]  # type: ignore[arg-type]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


def test_records_are_written_in_order_in_one_pass_and_none_is_lost_at_stop() -> None:
    records, stream = _Pending(), io.StringIO()
    writer = BatchedWriter(records, JsonLines(), stream, every=3600)  # no timed pass during the test
    logger = _logger("order", records)
    for index in range(500):
        logger.info(json.dumps({"event": "predict", "n": index}))
    assert not records.urgent.is_set()  # info records wake nobody
    writer.stop()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["n"] for line in lines] == list(range(500))
    assert lines[0]["event"] == "predict" and lines[0]["logger"] == "slipway.test.order"


def test_an_error_wakes_the_writer_at_once() -> None:
    records, stream = _Pending(), io.StringIO()
    writer = BatchedWriter(records, JsonLines(), stream, every=3600)
    logger = _logger("urgent", records)
    logger.info("before")
    assert not records.urgent.is_set()
    logger.error("the review store is unavailable")
    deadline = time.monotonic() + 30  # the writer's pass after the wake-up (the timed pass is an hour away)
    while "unavailable" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.005)  # polling the condition, bounded by the deadline
    assert [json.loads(line)["message"] for line in stream.getvalue().splitlines()] == [
        "before",
        "the review store is unavailable",
    ]
    writer.stop()


def test_a_record_that_cannot_be_formatted_does_not_stop_the_others() -> None:
    records, stream = _Pending(), io.StringIO()
    writer = BatchedWriter(records, JsonLines(), stream, every=3600)
    logger = _logger("broken", records)
    logger.info("fine")
    records.append(logging.makeLogRecord({"name": "slipway.x", "msg": "%d", "args": ("not a number",)}))
    logger.info("also fine")
    writer.stop()
    text = stream.getvalue().splitlines()
    assert json.loads(text[0])["message"] == "fine" and json.loads(text[2])["message"] == "also fine"
    assert "unformattable log record from slipway.x" in text[1]
