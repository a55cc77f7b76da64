"""ModelService and Jobs: every workload is restricted, pinned, sized, probed and highly available."""

from __future__ import annotations

import re

import pytest

from infra.components.model_service import MODEL_DIGEST_ANNOTATION, MODEL_SIGNATURE_ANNOTATION
from tests.infra.conftest import SHARED_STORE, Manifest, RenderFn, of_kind, pod_specs

DIGEST_REF = re.compile(r"^(?P<registry>[^/]+)/.+@sha256:[0-9a-f]{64}$")


def _containers(spec: Manifest) -> list[Manifest]:
    return [*spec.get("initContainers", []), *spec["containers"], *spec.get("ephemeralContainers", [])]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_workload_is_restricted(render: RenderFn, stack: str) -> None:
    workloads = pod_specs(render(stack))
    assert {name for name, _ in workloads} == {"classifier", "pipeline", "drift-report", "retrain"}
    for name, spec in workloads:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] >= 10000, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), name
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        assert not any("hostPath" in v for v in spec["volumes"]), name
        for container in _containers(spec):
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"] == {"drop": ["ALL"]}, name
            assert sc.get("privileged") is not True, name
            assert sc.get("runAsUser", pod["runAsUser"]) >= 10000, name
            assert {"mountPath": "/tmp", "name": "tmp"} in container["volumeMounts"], name
            resources = container["resources"]
            assert set(resources["requests"]) == {"cpu", "memory"}, name
            assert set(resources["limits"]) == {"cpu", "memory"}, name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_images_are_pinned_by_digest_from_an_approved_registry(render: RenderFn, stack: str) -> None:
    from infra.render import stack_config
    from tests.conftest import PROJECT_DIR

    config = stack_config(PROJECT_DIR, stack)
    approved = config["slipway:approvedRegistries"]
    for name, spec in pod_specs(render(stack)):
        for container in _containers(spec):
            match = DIGEST_REF.match(container["image"])
            assert match, f"{name}: {container['image']} is not pinned by digest"
            assert match["registry"] in approved, f"{name}: {container['image']} not from {approved}"


def test_model_service_probes_use_bentoml_health_endpoints(render: RenderFn) -> None:
    (deployment,) = of_kind(render("dev"), "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["ports"] == [{"containerPort": 3000, "name": "http", "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("stack", "overrides", "replicas", "strict"),
    [
        ("dev", {"modelReplicas": 2, "modelMaxReplicas": 4, **SHARED_STORE}, 2, "ScheduleAnyway"),
        ("prod", {}, 3, "DoNotSchedule"),
    ],
)
def test_model_service_is_highly_available(
    render: RenderFn, stack: str, overrides: dict[str, object], replicas: int, strict: str
) -> None:
    manifests = render(stack, **overrides)
    (deployment,) = of_kind(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == replicas >= 2
    selector = deployment["spec"]["selector"]["matchLabels"]

    (pdb,) = of_kind(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == selector
    assert 1 <= pdb["spec"]["minAvailable"] < replicas

    (hpa,) = of_kind(manifests, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "classifier",
    }
    assert hpa["spec"]["minReplicas"] == replicas < hpa["spec"]["maxReplicas"]

    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    by_key = {c["topologyKey"]: c for c in spread}
    assert by_key["kubernetes.io/hostname"]["whenUnsatisfiable"] == strict
    assert by_key["topology.kubernetes.io/zone"]["labelSelector"]["matchLabels"] == selector

    (service,) = of_kind(manifests, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == selector


def test_model_artifact_digest_and_signature_are_recorded(render: RenderFn) -> None:
    (deployment,) = of_kind(render("prod"), "Deployment")
    for recorded in (
        deployment["metadata"]["annotations"],
        deployment["spec"]["template"]["metadata"]["annotations"],
    ):
        assert recorded[MODEL_DIGEST_ANNOTATION] == (
            "sha256:0a53964d1497b31ad18fdb1fbf31e24baeb1d219c08e92e2c4fac354fcead564"
        )
        assert recorded[MODEL_SIGNATURE_ANNOTATION].startswith("46jlcpsU")


def test_scraping_uses_annotations_without_the_prometheus_operator(render: RenderFn) -> None:
    manifests = render("dev")
    assert of_kind(manifests, "ServiceMonitor") == []
    (deployment,) = of_kind(manifests, "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "3000"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_scraping_uses_a_service_monitor_with_the_prometheus_operator(render: RenderFn) -> None:
    manifests = render("dev", prometheusOperator=True)
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["endpoints"] == [{"interval": "30s", "path": "/metrics", "port": "http"}]
    (deployment,) = of_kind(manifests, "Deployment")
    assert "prometheus.io/scrape" not in deployment["spec"]["template"]["metadata"]["annotations"]


def test_jobs_run_slipway_subcommands_and_retraining_is_suspended(render: RenderFn) -> None:
    cronjobs = {c["metadata"]["name"]: c for c in of_kind(render("prod"), "CronJob")}
    commands = {
        name: c["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
        for name, c in cronjobs.items()
    }
    assert commands["pipeline"][:3] == ["slipway", "pipeline", "run"]
    assert commands["drift-report"][:3] == ["slipway", "drift", "report"]
    assert commands["retrain"] == ["slipway", "train"]
    assert cronjobs["retrain"]["spec"]["suspend"] is True
    assert cronjobs["pipeline"]["spec"]["suspend"] is False
    assert cronjobs["pipeline"]["spec"]["schedule"] == "*/30 * * * *"
    assert all(c["spec"]["concurrencyPolicy"] == "Forbid" for c in cronjobs.values())


def test_jobs_push_metrics_to_the_pushgateway_through_an_opened_egress(render: RenderFn) -> None:
    manifests = render("prod")
    for cronjob in of_kind(manifests, "CronJob"):
        (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert {"name": "SLIPWAY_PUSHGATEWAY", "value": "http://pushgateway.monitoring.svc:9091"} in container["env"]
    egress = {
        p["metadata"]["name"]: p["spec"]
        for p in of_kind(manifests, "NetworkPolicy")
        if "Egress" in p["spec"]["policyTypes"]
    }
    (spec,) = [spec for name, spec in egress.items() if name.endswith("-allow-to-pushgateway")]
    assert spec["egress"] == [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": 9091, "protocol": "TCP"}],
        }
    ]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "job"


def test_without_a_pushgateway_jobs_keep_metrics_on_their_volume(render: RenderFn) -> None:
    manifests = render("dev")
    for cronjob in of_kind(manifests, "CronJob"):
        (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert all(e["name"] != "SLIPWAY_PUSHGATEWAY" for e in container["env"])
    assert not [p for p in of_kind(manifests, "NetworkPolicy") if p["metadata"]["name"].endswith("pushgateway")]
