"""What the loop reads from Prometheus: the alerts firing now, and single values of queries.

Usage::

    prometheus = Prometheus("http://prometheus.monitoring:9090")
    prometheus.firing()                       # {"AuditAccuracyLow", ...}
    prometheus.value('max(slipway_shadow_records_total{digest="sha256:..."})')
"""

from __future__ import annotations

from typing import Any

import httpx

from slipway.errors import SlipwayError


class PrometheusUnavailable(SlipwayError):
    """Prometheus did not answer: the loop will not act blind (nothing changed)."""

    exit_code = 3


class Prometheus:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, **params: str) -> Any:
        try:
            response = httpx.get(f"{self.url}{path}", params=params, timeout=self.timeout)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusUnavailable(f"Prometheus at {self.url} did not answer {path}: {exc}") from None
        if body.get("status") != "success":
            raise PrometheusUnavailable(f"Prometheus at {self.url} refused {path}: {body.get('error')}")
        return body["data"]

    def firing(self) -> set[str]:
        return {a["labels"]["alertname"] for a in self._get("/api/v1/alerts")["alerts"] if a.get("state") == "firing"}

    def value(self, query: str) -> float | None:
        result = self._get("/api/v1/query", query=query)["result"]
        return float(result[0]["value"][1]) if result else None
