"""Settings: typed, from stack config and SLIPWAY_* env (env wins), and readable errors."""

from __future__ import annotations

import pytest

from infra.config import SettingsError
from tests.infra.conftest import SHARED_STORE, RenderFn, of_kind


def test_stack_config_reaches_the_program(render: RenderFn) -> None:
    manifests = render("dev", modelReplicas=5, modelMaxReplicas=9, **SHARED_STORE)
    (deployment,) = of_kind(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 5


def test_environment_overrides_stack_config(render: RenderFn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_MODEL_REPLICAS", "3")
    monkeypatch.setenv(
        "SLIPWAY_ALLOW_INGRESS", '[{"name": "portal", "namespace": "portal", "podSelector": {"app": "web"}}]'
    )
    manifests = render("dev", modelReplicas=5, modelMaxReplicas=9, **SHARED_STORE)
    (deployment,) = of_kind(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    names = {p["metadata"]["name"] for p in of_kind(manifests, "NetworkPolicy")}
    assert "classifier-allow-from-portal" in names
    assert "classifier-allow-from-local-clients" not in names


def test_defaults_apply_when_the_stack_is_silent(render: RenderFn) -> None:
    (hpa,) = of_kind(render("prod", modelMaxReplicas=None), "HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] == 4
    metric = hpa["spec"]["metrics"][0]["resource"]["target"]
    assert metric == {"averageUtilization": 70, "type": "Utilization"}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"modelImageDigest": "latest"},
            "slipway:modelImageDigest = 'latest': must be a digest like sha256:",
        ),
        ({"modelReplicas": 0}, "slipway:modelReplicas = '0': Input should be greater than or equal to 1"),
        (
            {"modelReplicas": 2, "modelMaxReplicas": 2},
            "a SQLite review queue (sqlite:///var/lib/slipway/review/queue.db) is one file per pod, not one queue",
        ),
        ({"modelPublicKey": "not a key"}, "slipway:modelPublicKey = 'not a key': must be a PEM public key"),
        (
            {"modelSignature": "not-base64!"},
            "slipway:modelSignature = 'not-base64!': must be the base64 Ed25519",
        ),
        ({"namespace": "Bad_Name"}, "slipway:namespace = 'Bad_Name': must be a DNS-1123 label"),
        ({"modelCpuLimit": "lots"}, "slipway:modelCpuLimit = 'lots': must be a Kubernetes quantity"),
        ({"pipelineSchedule": "hourly"}, "slipway:pipelineSchedule = 'hourly': must be a cron schedule"),
        ({"spreadStrict": "maybe"}, "slipway:spreadStrict = 'maybe': Input should be a valid boolean"),
        (
            {"modelImage": "docker.io/library/model"},
            "modelImage 'docker.io/library/model' is not from an approved registry",
        ),
        (
            {"allowIngress": [{"name": "x", "namespace": "a", "cidr": "10.0.0.0/8"}]},
            "slipway:allowIngress.0 = {'name': 'x', 'namespace': 'a', 'cidr': '10.0.0.0/8'}: give exactly",
        ),
        (
            {"allowEgress": [{"name": "anywhere", "cidr": "0.0.0.0/0", "ports": [{"port": 443}]}]},
            "is allow-all; name the network you mean",
        ),
        (
            {"allowEgress": [{"name": "db", "namespace": "data"}]},
            "egress rule 'db' must list its ports",
        ),
        (
            {"approvedClusters": [{"name": "p", "server": "https://k:6443", "caSha256": "abc"}]},
            "slipway:approvedClusters.0.caSha256 = 'abc': must be a SHA-256 fingerprint",
        ),
        (
            {"allowIngress": [{"name": "x", "namespace": "a", "podselector": {}}]},
            "slipway:allowIngress.0.podselector = {}: Extra inputs are not permitted",
        ),
        (
            {"pushgateway": "pushgateway.monitoring:9091"},
            "slipway:pushgateway = 'pushgateway.monitoring:9091'",
        ),
    ],
)
def test_invalid_values_name_key_value_and_form(render: RenderFn, overrides: dict[str, object], expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        render("dev", **overrides)
    assert expected in str(caught.value)


def test_missing_required_value_says_how_to_set_it(render: RenderFn) -> None:
    from infra.render import run_under_mocks, stack_config
    from tests.conftest import PROJECT_DIR

    config = stack_config(PROJECT_DIR, "dev")
    del config["slipway:modelImageDigest"]
    with pytest.raises(SettingsError) as caught:
        run_under_mocks(config, "dev")
    assert "slipway:modelImageDigest is required but not set (pulumi config set slipway:modelImageDigest" in str(
        caught.value
    )


def test_unknown_key_is_refused_with_the_known_keys(render: RenderFn) -> None:
    with pytest.raises(SettingsError) as caught:
        render("dev", modelReplica=3)
    message = str(caught.value)
    assert "unknown config key(s) slipway:modelReplica" in message
    assert "slipway:modelReplicas" in message


def test_invalid_settings_register_no_resource() -> None:
    from infra.render import run_under_mocks, stack_config
    from tests.conftest import PROJECT_DIR

    config = {**stack_config(PROJECT_DIR, "dev"), "slipway:modelImageDigest": "sha256:short"}
    with pytest.raises(SettingsError):
        run_under_mocks(config, "dev")
