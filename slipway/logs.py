"""Structured logs: JSON lines when not on a terminal, readable lines on one.

Event records are logged as JSON objects (``{"event": "predict", "request_id": ...}``) so one request
id links a prediction, its review and its audit entries. Nothing logs feature values or keys.

Usage::

    configure()                                    # once, at process start
    logging.getLogger("slipway.x").info(json.dumps({"event": "...", ...}))
"""

from __future__ import annotations

import datetime
import json
import logging
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


def configure(level: int = logging.INFO) -> None:
    """Give the ``slipway`` loggers their own handler (idempotent; leaves other loggers alone)."""
    global _CONFIGURED
    if _CONFIGURED:
        return
    handler = logging.StreamHandler(sys.stderr)
    if sys.stderr.isatty():
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    else:
        handler.setFormatter(JsonLines())
    logger = logging.getLogger("slipway")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    _CONFIGURED = True
