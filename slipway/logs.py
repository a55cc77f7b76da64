"""Structured logs: JSON lines when not on a terminal, readable lines on one.

Event records are logged as JSON objects (``{"event": "predict", "request_id": ...}``) so one request
id links a prediction, its review and its audit entries. Nothing logs feature values or keys.

Usage::

    configure()                                    # once, at process start
    logging.getLogger("slipway.x").info(json.dumps({"event": "...", ...}))
"""

from __future__ import annotations

import atexit
import datetime
import json
import logging
import logging.handlers
import os
import queue
import sys

_CONFIGURED = False


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        try:
            fields = json.loads(message)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            fields = {"message": message}
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            **fields,
        }
        return json.dumps(entry, default=str, sort_keys=False)


def configure(level: int | None = None) -> None:
    """Give the ``slipway`` loggers their own handler (idempotent; leaves other loggers alone).

    The level comes from ``SLIPWAY_LOG_LEVEL`` (debug, info, warning, error; default info)."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    handler = logging.StreamHandler(sys.stderr)
    if sys.stderr.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonLines())
    # Request threads only enqueue; one listener thread formats and writes (no stderr I/O on the hot path).
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, handler, respect_handler_level=True)
    listener.start()
    atexit.register(listener.stop)
    logger = logging.getLogger("slipway")
    logger.addHandler(logging.handlers.QueueHandler(records))
    if level is None:
        name = os.environ.get("SLIPWAY_LOG_LEVEL", "info").upper()
        level = logging.getLevelNamesMapping().get(name, logging.INFO)
    logger.setLevel(level)
    logger.propagate = False
    _CONFIGURED = True
