"""What the server and the jobs need at run time is declared: keys, volumes, the review store."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import SettingsError
from tests.infra.conftest import Manifest, RenderFn, of_kind, pod_specs

READ_ONLY_ROOT_WRITERS = {"/tmp", "/var/lib/slipway", "/var/lib/bentoml"}


def _container(pod: Manifest) -> dict[str, Any]:
    (container,) = pod["containers"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_keys_arrive_read_only_from_a_configmap_and_secrets(render: RenderFn) -> None:
    manifests = render("dev")
    (config_map,) = [c for c in of_kind(manifests, "ConfigMap") if c["metadata"]["name"] == "model-public-key"]
    assert config_map["data"]["signing.pub"].startswith("-----BEGIN PUBLIC KEY-----")
    for name, pod in pod_specs(manifests):
        volumes = {v["name"]: v for v in pod["volumes"]}
        sources = volumes["keys"]["projected"]["sources"]
        assert sources[0] == {
            "configMap": {"name": "model-public-key", "items": [{"key": "signing.pub", "path": "signing.pub"}]}
        }
        secret_keys = {i["key"] for s in sources if "secret" in s for i in s["secret"]["items"]}
        expected = {"review.key"} if name == "classifier" else {"review.key", "data.key"}
        assert secret_keys == expected | ({"signing.key"} if name == "retrain" else set()), name
        mounts = {m["mountPath"]: m for m in _container(pod)["volumeMounts"]}
        assert mounts["/etc/slipway/keys"]["readOnly"] is True
        assert _env(_container(pod))["SLIPWAY_KEYS"] == "/etc/slipway/keys"


def test_every_path_written_is_a_declared_volume(render: RenderFn) -> None:
    for name, pod in pod_specs(render("dev")):
        container = _container(pod)
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = _env(container)
        mounted = {m["mountPath"] for m in container["volumeMounts"]}
        for variable in ("SLIPWAY_HOME", "BENTOML_HOME", "TMPDIR"):
            assert any(env[variable] == m or env[variable].startswith(m + "/") for m in mounted), (name, variable)
        volumes = {v["name"]: v for v in pod["volumes"]}
        for mount in container["volumeMounts"]:
            volume = volumes[mount["name"]]
            if "emptyDir" in volume:
                assert volume["emptyDir"]["sizeLimit"], (name, mount["name"])


def test_one_replica_keeps_sqlite_on_the_state_volume(render: RenderFn) -> None:
    manifests = render("dev")
    (deployment,) = of_kind(manifests, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"] == {"type": "Recreate"}
    env = _env(_container(pod))
    assert env["SLIPWAY_REVIEW_QUEUE"] == "sqlite:///var/lib/slipway/review/queue.db"
    assert env["SLIPWAY_SERVER_REPLICAS"] == "1"
    state = next(v for v in pod["volumes"] if v["name"] == "slipway-state")
    assert state == {"name": "slipway-state", "persistentVolumeClaim": {"claimName": "slipway-state"}}
    assert of_kind(manifests, "HorizontalPodAutoscaler") == []
    (pdb,) = of_kind(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1  # never blocks a node drain


def test_more_replicas_share_a_store_named_by_a_secret(render: RenderFn) -> None:
    (deployment,) = of_kind(render("prod"), "Deployment")
    container = _container(deployment["spec"]["template"]["spec"])
    env = _env(container)
    assert env["SLIPWAY_REVIEW_QUEUE"] == {"secretKeyRef": {"name": "review-store", "key": "dsn"}}
    assert env["SLIPWAY_SERVER_REPLICAS"] == "8"
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    annotations = deployment["metadata"]["annotations"]
    assert annotations["slipway.dev/review-route"] == "postgresql (secret review-store, key dsn)"


def test_no_secret_material_is_rendered(render: RenderFn) -> None:
    text = repr(render("prod")) + repr(render("dev"))
    assert "PRIVATE KEY" not in text
    assert not of_kind(render("dev"), "Secret")


def test_the_drift_job_reads_the_pipeline_output_after_it(render: RenderFn) -> None:
    jobs = {j["metadata"]["name"]: j for j in of_kind(render("dev"), "CronJob")}
    drift = jobs["drift-report"]
    assert drift["metadata"]["annotations"] == {"slipway.dev/run-after": "pipeline"}
    command = drift["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[-1] == "/var/lib/slipway/pipeline/data/records.parquet"


def test_the_organisations_issuer_reaches_the_server_and_nobody_is_trusted_without_one(render: RenderFn) -> None:
    (deployment,) = of_kind(render("dev"), "Deployment")
    assert not any(k.startswith("SLIPWAY_AUTH_") for k in _env(_container(deployment["spec"]["template"]["spec"])))
    keycloak = "https://kc.example.org/realms/ml"
    (deployment,) = of_kind(
        render("dev", authIssuer=keycloak, authJwksUrl=f"{keycloak}/protocol/openid-connect/certs",
               authRoleClaim="realm_access.roles", authRoleMap='{"reviewer": ["ml-reviewer"]}', authPredict=True,
               allowEgress=[{"name": "identity-provider", "cidr": "10.40.0.0/24", "ports": [{"port": 443}]}]),
        "Deployment",
    )  # fmt: skip
    env = _env(_container(deployment["spec"]["template"]["spec"]))
    assert env["SLIPWAY_AUTH_ISSUER"] == keycloak and env["SLIPWAY_AUTH_JWKS_URL"].endswith("/certs")
    assert env["SLIPWAY_AUTH_ROLE_CLAIM"] == "realm_access.roles" and env["SLIPWAY_AUTH_PREDICT"] == "true"
    assert env["SLIPWAY_AUTH_ROLE_MAP"] == '{"reviewer": ["ml-reviewer"]}' and env["SLIPWAY_AUTH_AUDIENCE"] == "slipway"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"authIssuer": "https://kc.example.org/realms/ml"}, "authIssuer and authJwksUrl go together"),
        ({"authIssuer": "http://kc.example.org", "authJwksUrl": "https://kc.example.org/certs"}, "authIssuer"),
        ({"authRoleMap": "reviewer=x"}, "authRoleMap must be a JSON object"),
        ({"authRoleMap": '{"superuser": ["x"]}'}, "not roles of the kit"),
        (
            {"authIssuer": "https://kc.example.org/realms/ml", "authJwksUrl": "https://kc.example.org/certs"},
            "declare an allowEgress rule named 'identity-provider'",
        ),
        (
            {"modelReplicas": 2, "modelMaxReplicas": 2, "reviewStoreSecret": "review-store"},
            "declare an allowEgress rule named 'review-store'",
        ),
    ],
)
def test_an_incomplete_or_weak_issuer_setting_is_refused(
    render: RenderFn, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        render("dev", **overrides)


KEYCLOAK = "https://kc.example.org/realms/ml"
LOOP_STACK = {
    "authIssuer": KEYCLOAK, "authJwksUrl": f"{KEYCLOAK}/protocol/openid-connect/certs",
    "allowEgress": [{"name": "identity-provider", "cidr": "10.40.0.0/24", "ports": [{"port": 443}]}],
    "jobsAllowEgress": [{"name": "identity-provider", "cidr": "10.40.0.0/24", "ports": [{"port": 443}]}],
    "loopPrometheus": "http://prometheus-operated.monitoring.svc:9090", "loopTokenSecret": "slipway-loop-token",
}  # fmt: skip


def test_the_model_loop_runs_as_its_own_subject_and_reaches_only_prometheus_and_the_issuer(render: RenderFn) -> None:
    assert "model-loop" not in {c["metadata"]["name"] for c in of_kind(render("dev"), "CronJob")}  # off by default
    manifests = render("dev", **LOOP_STACK)
    (loop,) = [c for c in of_kind(manifests, "CronJob") if c["metadata"]["name"] == "model-loop"]
    pod = loop["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = _container(pod)
    assert container["command"] == ["slipway", "loop", "reconcile"] and loop["spec"]["schedule"] == "*/30 * * * *"
    env = {e["name"]: e for e in container["env"]}
    assert env["SLIPWAY_LOOP_PROMETHEUS_URL"]["value"] == "http://prometheus-operated.monitoring.svc:9090"
    assert env["SLIPWAY_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "slipway-loop-token", "key": "token"}
    assert env["SLIPWAY_AUTH_ISSUER"]["value"] == KEYCLOAK
    (egress,) = [p["spec"] for p in of_kind(manifests, "NetworkPolicy") if p["metadata"]["name"].endswith("prometheus")]
    assert egress["egress"][0]["ports"] == [{"port": 9090, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("drop", "message"),
    [("loopTokenSecret", "set loopTokenSecret"), ("jobsAllowEgress", "jobsAllowEgress rule named 'identity-provider'")],
)
def test_a_model_loop_without_its_identity_or_its_way_to_the_issuer_is_refused(
    render: RenderFn, drop: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        render("dev", **{k: v for k, v in LOOP_STACK.items() if k != drop})
