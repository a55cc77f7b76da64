"""Render helpers: run the real Pulumi program under Pulumi's mocks with a stack file + overrides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from infra.render import RenderedObject, render_stack, run_under_mocks, stack_config
from slipway.objects import restore_integers
from tests.conftest import PROJECT_DIR

Manifest = dict[str, Any]
RenderFn = Callable[..., list[Manifest]]
# a shared PostgreSQL review store, and the one egress path the model service then needs
SHARED_STORE: dict[str, Any] = {
    "reviewStoreSecret": "review-store",
    "allowEgress": [{"name": "review-store", "namespace": "data", "ports": [{"port": 5432}]}],
}


def encode_overrides(overrides: Mapping[str, Any]) -> dict[str, str]:
    from infra.render import _encode

    return {key if ":" in key else f"slipway:{key}": _encode(value) for key, value in overrides.items()}


@pytest.fixture
def render() -> RenderFn:
    """``render("prod", modelReplicas=3)`` -> the list of manifests the program registers."""

    def _render(stack: str = "dev", **overrides: Any) -> list[Manifest]:
        """An override of None removes the key from the stack (its default applies)."""
        removed = {key if ":" in key else f"slipway:{key}" for key, value in overrides.items() if value is None}
        kept = {key: value for key, value in overrides.items() if value is not None}
        stack_file = {k: v for k, v in stack_config(PROJECT_DIR, stack).items() if k not in removed}
        config = {**stack_file, **encode_overrides(kept)}
        _, captured = run_under_mocks(config, stack)
        return [restore_integers(inputs) for _, inputs in captured]

    return _render


@pytest.fixture(scope="session")
def dev_objects() -> list[RenderedObject]:
    return render_stack(PROJECT_DIR, "dev")


@pytest.fixture(scope="session")
def prod_objects() -> list[RenderedObject]:
    return render_stack(PROJECT_DIR, "prod")


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def pod_specs(manifests: list[Manifest]) -> list[tuple[str, Manifest]]:
    """Every pod template: (workload name, pod spec) for Deployments and CronJobs."""
    found = []
    for m in manifests:
        if m["kind"] == "Deployment":
            found.append((m["metadata"]["name"], m["spec"]["template"]["spec"]))
        elif m["kind"] == "CronJob":
            found.append((m["metadata"]["name"], m["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return found
