"""Live-cluster tests: run after `pulumi up` when a kubeconfig reaches a cluster, else skip with the reason.

Select the deployed stack with SLIPWAY_CLUSTER_STACK (default: dev). Nothing here fakes a cluster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from infra.render import RenderedObject, render_stack
from tests.conftest import PROJECT_DIR

KUBECONFIG = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
STACK = os.environ.get("SLIPWAY_CLUSTER_STACK", "dev")


def _cluster_or_reason() -> tuple[Any, str]:
    first = KUBECONFIG.split(os.pathsep)[0]
    if not Path(first).is_file():
        return None, f"no kubeconfig at {first}: tests/cluster needs a real cluster"
    from kubernetes import client, config

    try:
        config.load_kube_config(config_file=first)  # type: ignore[no-untyped-call]
        api = client.CoreV1Api()
        api.list_namespace(limit=1, _request_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to reach the cluster is a reason to skip
        return None, f"kubeconfig {first} does not reach a cluster: {type(exc).__name__}"
    return api, ""


@pytest.fixture(scope="session")
def core_api() -> Any:
    api, reason = _cluster_or_reason()
    if api is None:
        pytest.skip(reason)
    return api


@pytest.fixture(scope="session")
def expected() -> list[RenderedObject]:
    """What the deployed stack should contain: the same objects `slipway render` produces."""
    return render_stack(PROJECT_DIR, STACK)
