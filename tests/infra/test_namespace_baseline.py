"""CompliantNamespace: every namespace the kit creates carries the whole baseline."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Manifest, RenderFn, of_kind


def _in_namespace(manifests: list[Manifest], kind: str, namespace: str) -> list[Manifest]:
    return [m for m in of_kind(manifests, kind) if m["metadata"].get("namespace") == namespace]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_namespace_has_the_baseline(render: RenderFn, stack: str) -> None:
    manifests = render(stack)
    namespaces = of_kind(manifests, "Namespace")
    assert namespaces, "the stack creates no namespace"
    for ns in namespaces:
        name = ns["metadata"]["name"]
        policies = _in_namespace(manifests, "NetworkPolicy", name)
        deny = [p for p in policies if p["metadata"]["name"] == "default-deny-all"]
        assert len(deny) == 1, f"{name}: no default-deny policy"
        spec = deny[0]["spec"]
        assert spec["podSelector"] == {}
        assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
        assert "ingress" not in spec and "egress" not in spec, f"{name}: default-deny allows something"

        quotas = _in_namespace(manifests, "ResourceQuota", name)
        assert len(quotas) == 1, f"{name}: no ResourceQuota"
        hard = quotas[0]["spec"]["hard"]
        for key in ("requests.cpu", "limits.cpu", "requests.memory", "limits.memory", "pods"):
            assert key in hard, f"{name}: quota lacks {key}"
        assert hard["services.loadbalancers"] == "0" and hard["services.nodeports"] == "0"

        limits = _in_namespace(manifests, "LimitRange", name)
        assert len(limits) == 1, f"{name}: no LimitRange"
        container = next(item for item in limits[0]["spec"]["limits"] if item["type"] == "Container")
        assert {"default", "defaultRequest", "max"} <= set(container)

        accounts = _in_namespace(manifests, "ServiceAccount", name)
        assert accounts and all(a["automountServiceAccountToken"] is False for a in accounts)

        labels = ns["metadata"]["labels"]
        assert labels["owner"] and labels["data-classification"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_pod_security_restricted_everywhere_and_pinned(render: RenderFn, stack: str) -> None:
    manifests = render(stack)
    for ns in of_kind(manifests, "Namespace"):
        labels = ns["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
            assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.33"


def test_pod_security_version_follows_the_cluster_version(render: RenderFn) -> None:
    manifests = render("dev", kubernetesVersion="1.31")
    (ns,) = of_kind(manifests, "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce-version"] == "v1.31"


def test_dns_egress_goes_only_to_kube_dns(render: RenderFn) -> None:
    manifests = render("prod")
    dns = [p for p in of_kind(manifests, "NetworkPolicy") if p["metadata"]["name"] == "allow-dns-egress"]
    assert len(dns) == len(of_kind(manifests, "Namespace")) == 3
    for policy in dns:
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Egress"]
        assert "ingress" not in spec
        (rule,) = spec["egress"]
        assert rule["to"] == [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ]
        assert sorted((p["port"], p["protocol"]) for p in rule["ports"]) == [(53, "TCP"), (53, "UDP")]


def test_quota_follows_settings(render: RenderFn) -> None:
    manifests = render("dev", quotaCpu="6", quotaMemory="12Gi", quotaPods=7)
    (quota,) = of_kind(manifests, "ResourceQuota")
    assert quota["spec"]["hard"]["limits.cpu"] == "6"
    assert quota["spec"]["hard"]["limits.memory"] == "12Gi"
    assert quota["spec"]["hard"]["pods"] == "7"


def test_client_namespaces_get_the_same_baseline(render: RenderFn) -> None:
    manifests = render("prod")
    names = sorted(ns["metadata"]["name"] for ns in of_kind(manifests, "Namespace"))
    assert names == ["claims-review", "clinic-portal", "ml-serving"]
    portal = next(ns for ns in of_kind(manifests, "Namespace") if ns["metadata"]["name"] == "clinic-portal")
    assert portal["metadata"]["labels"]["owner"] == "clinical-apps"
    assert portal["metadata"]["labels"]["data-classification"] == "restricted"
