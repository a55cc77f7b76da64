"""The webhook receiver the drills' Alertmanager delivers to: it keeps every notification it gets.

Usage::

    with WebhookReceiver() as receiver:
        ...                                        # Alertmanager's webhook_configs url: receiver.url
        alert = receiver.wait_for("ModelServerDown", "firing", timeout=60)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class WebhookReceiver:
    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._changed:
                    receiver.notifications.append({"received": time.time(), **json.loads(body)})
                    receiver._changed.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alerts"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _find(self, alertname: str, status: str, after: float) -> dict[str, Any] | None:
        for notification in self.notifications:
            if notification["received"] < after:
                continue
            for alert in notification.get("alerts", []):
                if alert["labels"].get("alertname") == alertname and alert["status"] == status:
                    return {"received": notification["received"], **alert}
        return None

    def history(self, alertname: str) -> list[tuple[float, str]]:
        """Every notification of ``alertname`` so far: (received, "firing" | "resolved")."""
        return [(n["received"], a["status"]) for n in list(self.notifications) for a in n.get("alerts", [])
                if a["labels"].get("alertname") == alertname]  # fmt: skip

    def wait_for(self, alertname: str, status: str, *, timeout: float, after: float = 0.0) -> dict[str, Any]:
        """The first ``status`` ("firing" or "resolved") notification of ``alertname`` received after
        ``after``; TimeoutError when none arrives in time."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (found := self._find(alertname, status, after)) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {status} notification of {alertname} within {timeout:.0f} s")
                self._changed.wait(left)
        return found
