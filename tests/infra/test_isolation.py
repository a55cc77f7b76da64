"""Isolation from declared intent: each allow entry yields exactly its policy, and nothing else opens."""

from __future__ import annotations

from tests.infra.conftest import Manifest, RenderFn, of_kind

MODEL_SELECTOR = {"app.kubernetes.io/component": "model-server", "app.kubernetes.io/name": "classifier"}
JOBS_SELECTOR = {"app.kubernetes.io/component": "job", "app.kubernetes.io/part-of": "slipway"}
BASELINE = {"default-deny-all", "allow-dns-egress"}


def _policies(manifests: list[Manifest]) -> dict[tuple[str, str], Manifest]:
    return {(p["metadata"]["namespace"], p["metadata"]["name"]): p["spec"] for p in of_kind(manifests, "NetworkPolicy")}


def _ns(name: str) -> Manifest:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def test_prod_opens_exactly_the_declared_paths(render: RenderFn) -> None:
    policies = _policies(render("prod"))
    declared = {key for key in policies if key[1] not in BASELINE}
    assert declared == {
        ("ml-serving", "classifier-allow-from-clinic-portal"),
        ("ml-serving", "classifier-allow-from-claims-review"),
        ("ml-serving", "classifier-allow-from-metrics-scrape"),
        ("ml-serving", "classifier-allow-to-review-store"),  # slipway:reviewStoreSecret needs it
        ("clinic-portal", "allow-to-ml-serving-classifier"),
        ("claims-review", "allow-to-ml-serving-classifier"),
        ("ml-serving", "jobs-allow-to-warehouse"),
        ("ml-serving", "jobs-allow-to-pushgateway"),  # slipway:pushgateway
    }


def test_ingress_entry_yields_its_policy(render: RenderFn) -> None:
    spec = _policies(render("prod"))[("ml-serving", "classifier-allow-from-clinic-portal")]
    assert spec == {
        "podSelector": {"matchLabels": MODEL_SELECTOR},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {
                        **_ns("clinic-portal"),
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "portal-api"}},
                    }
                ],
                "ports": [{"port": 3000, "protocol": "TCP"}],
            }
        ],
    }


def test_managed_caller_namespace_gets_the_matching_egress(render: RenderFn) -> None:
    spec = _policies(render("prod"))[("clinic-portal", "allow-to-ml-serving-classifier")]
    assert spec == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "portal-api"}},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [{**_ns("ml-serving"), "podSelector": {"matchLabels": MODEL_SELECTOR}}],
                "ports": [{"port": 3000, "protocol": "TCP"}],
            }
        ],
    }


def test_unmanaged_caller_gets_only_the_ingress_side(render: RenderFn) -> None:
    rule = [{"name": "gateway", "namespace": "ingress-nginx", "ports": [{"port": 3000}]}]
    policies = _policies(render("dev", allowIngress=rule))
    assert ("slipway-dev", "classifier-allow-from-gateway") in policies
    assert not [key for key in policies if key[0] == "ingress-nginx"]


def test_egress_entries_with_cidr_and_namespace(render: RenderFn) -> None:
    egress = [
        {"name": "feature-store", "cidr": "10.20.0.0/16", "ports": [{"port": 6379}]},
        {"name": "audit", "namespace": "audit", "podSelector": {"app": "sink"}, "ports": [{"port": 8443}]},
    ]
    policies = _policies(render("dev", allowEgress=egress))
    assert policies[("slipway-dev", "classifier-allow-to-feature-store")] == {
        "podSelector": {"matchLabels": MODEL_SELECTOR},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": [{"port": 6379, "protocol": "TCP"}]}],
    }
    assert policies[("slipway-dev", "classifier-allow-to-audit")]["egress"] == [
        {
            "to": [{**_ns("audit"), "podSelector": {"matchLabels": {"app": "sink"}}}],
            "ports": [{"port": 8443, "protocol": "TCP"}],
        }
    ]


def test_jobs_reach_only_their_declared_sources(render: RenderFn) -> None:
    spec = _policies(render("prod"))[("ml-serving", "jobs-allow-to-warehouse")]
    assert spec["podSelector"] == {"matchLabels": JOBS_SELECTOR}
    assert spec["egress"] == [
        {
            "to": [{**_ns("data"), "podSelector": {"matchLabels": {"app.kubernetes.io/name": "warehouse"}}}],
            "ports": [{"port": 5432, "protocol": "TCP"}],
        }
    ]


def test_metrics_scrape_is_allowed_only_from_the_monitoring_namespace(render: RenderFn) -> None:
    spec = _policies(render("dev", monitoringNamespace="observability"))[
        ("slipway-dev", "classifier-allow-from-metrics-scrape")
    ]
    assert spec["ingress"] == [{"from": [_ns("observability")], "ports": [{"port": 3000, "protocol": "TCP"}]}]


def test_no_declared_intent_means_only_the_baseline_and_scraping(render: RenderFn) -> None:
    policies = _policies(render("dev", allowIngress=[]))
    assert {name for _, name in policies} == BASELINE | {"classifier-allow-from-metrics-scrape"}
    for spec in policies.values():
        for rule in spec.get("ingress", []) + spec.get("egress", []):
            assert rule.get("from", rule.get("to")), "a rule with no peer would allow everything"
