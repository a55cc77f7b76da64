"""After `pulumi up`: the cluster holds the baseline the program promises, and it is enforced."""

from __future__ import annotations

from typing import Any

import pytest

from infra.render import RenderedObject

pytestmark = pytest.mark.cluster


def test_namespaces_enforce_pod_security_restricted(core_api: Any, expected: list[RenderedObject]) -> None:
    for obj in (o for o in expected if o.kind == "Namespace"):
        live = core_api.read_namespace(obj.name)
        labels = live.metadata.labels
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert (
            labels["pod-security.kubernetes.io/enforce-version"]
            == obj.manifest["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"]
        )


def test_every_rendered_network_policy_exists(core_api: Any, expected: list[RenderedObject]) -> None:
    from kubernetes import client

    networking: Any = client.NetworkingV1Api(core_api.api_client)
    for obj in (o for o in expected if o.kind == "NetworkPolicy"):
        live = networking.read_namespaced_network_policy(obj.name, obj.namespace)
        assert sorted(live.spec.policy_types) == sorted(obj.manifest["spec"]["policyTypes"])


def test_a_privileged_pod_is_rejected_by_admission(core_api: Any, expected: list[RenderedObject]) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    namespace = next(o.name for o in expected if o.kind == "Namespace")
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="slipway-admission-probe"),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="probe", image="busybox", security_context=client.V1SecurityContext(privileged=True)
                )
            ]
        ),
    )
    with pytest.raises(ApiException) as caught:
        core_api.create_namespaced_pod(namespace, pod, dry_run="All")
    assert caught.value.status == 403
    assert "violates PodSecurity" in str(caught.value.body)


def test_model_server_runs_as_non_root_with_a_read_only_root(core_api: Any, expected: list[RenderedObject]) -> None:
    import testinfra

    deployment = next(o for o in expected if o.kind == "Deployment")
    selector = ",".join(f"{k}={v}" for k, v in deployment.manifest["spec"]["selector"]["matchLabels"].items())
    pods = core_api.list_namespaced_pod(deployment.namespace, label_selector=selector).items
    running = [p for p in pods if p.status.phase == "Running"]
    assert len(running) >= 2, "the model service should run at least two replicas"
    host = testinfra.get_host(f"kubectl://{running[0].metadata.name}?namespace={deployment.namespace}")
    assert host.run("id -u").stdout.strip() != "0"
    assert host.run("touch /slipway-write-probe").rc != 0
    assert host.run("touch /tmp/slipway-write-probe").rc == 0
