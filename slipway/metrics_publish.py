"""Publishing a batch job's metrics: a Prometheus text file always, and a push to a Pushgateway when
``SLIPWAY_PUSHGATEWAY`` names one (in a cluster the job's volume is not on any node exporter's
textfile path, so the pipeline and training jobs push; Prometheus scrapes the gateway).

A failed push never fails the job: it is reported on stderr, and the alerts that read these metrics
(DataStale, for one) notice when fresh values stop arriving.

Usage::

    publish(registry, out / "metrics" / "pipeline.prom", job="slipway-pipeline")
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.error import URLError

from prometheus_client import CollectorRegistry, push_to_gateway, write_to_textfile

PUSHGATEWAY_ENV = "SLIPWAY_PUSHGATEWAY"
PUSH_TIMEOUT_SECONDS = 10.0


def publish(registry: CollectorRegistry, textfile: Path, *, job: str) -> bool:
    """Write ``textfile`` (atomically) and push to the configured gateway; False when a push failed."""
    textfile.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(textfile), registry)
    gateway = os.environ.get(PUSHGATEWAY_ENV, "").strip()
    if not gateway:
        return True
    try:
        push_to_gateway(gateway, job=job, registry=registry, timeout=PUSH_TIMEOUT_SECONDS)
    except (OSError, URLError) as exc:
        print(f"slipway: warning: metrics not pushed to {gateway} ({exc}); they are in {textfile}", file=sys.stderr)
        return False
    return True
