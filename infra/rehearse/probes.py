"""Kubernetes probes run against a rehearsed container exactly as declared.

httpGet succeeds on a status in [200, 400) within ``timeoutSeconds``; tcpSocket on a connection;
exec on exit code 0 (``podman exec``). Defaults are the kubelet's: period 10 s, timeout 1 s,
failure threshold 3, success threshold 1.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from images.engine import Engine

Obj = dict[str, Any]


@dataclass(frozen=True)
class Probe:
    kind: str  # startup | liveness | readiness
    spec: Obj

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds", 10))

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds", 1))

    @property
    def failure_threshold(self) -> int:
        return int(self.spec.get("failureThreshold", 3))

    @property
    def initial_delay(self) -> float:
        return float(self.spec.get("initialDelaySeconds", 0))

    def describe(self) -> str:
        if "httpGet" in self.spec:
            get = self.spec["httpGet"]
            return f"GET {get.get('path', '/')} on {get.get('port')}"
        if "tcpSocket" in self.spec:
            return f"TCP {self.spec['tcpSocket'].get('port')}"
        if "exec" in self.spec:
            return "exec " + " ".join(self.spec["exec"].get("command") or [])
        return "grpc"


def probes_of(container: Obj) -> dict[str, Probe]:
    return {
        kind: Probe(kind, container[f"{kind}Probe"])
        for kind in ("startup", "liveness", "readiness")
        if container.get(f"{kind}Probe")
    }


def attempt(probe: Probe, *, host_port: Callable[[Any], int], engine: Engine, container: str) -> tuple[bool, str]:
    """One probe attempt: (passed, what was seen)."""
    spec = probe.spec
    if "httpGet" in spec:
        get = spec["httpGet"]
        scheme = str(get.get("scheme", "HTTP")).lower()
        url = f"{scheme}://127.0.0.1:{host_port(get.get('port'))}{get.get('path', '/')}"
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders") or []}
        try:
            response = httpx.get(url, headers=headers, timeout=probe.timeout, verify=False)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__}"
        return 200 <= response.status_code < 400, f"HTTP {response.status_code} {response.text[:160].strip()}"
    if "tcpSocket" in spec:
        try:
            with socket.create_connection(("127.0.0.1", host_port(spec["tcpSocket"].get("port"))), probe.timeout):
                return True, "connected"
        except OSError as exc:
            return False, str(exc)
    if "exec" in spec:
        done = engine.run(
            ["exec", container, *[str(w) for w in spec["exec"].get("command") or []]],
            check=False,
            timeout=probe.timeout + 5,
        )
        return done.returncode == 0, f"exit {done.returncode}"
    return False, "grpc probes are not rehearsed"
