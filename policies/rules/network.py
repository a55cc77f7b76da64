"""Network isolation: default-deny in both directions everywhere, no allow-all, no exposure."""

from __future__ import annotations

from collections.abc import Iterator

from policies.config import GateConfig
from policies.k8s import mapping, sequence
from policies.model import Enforcement, Obj, Rule, Severity, SourceObject, Violation

DOCS = "policies/RULES.md"


def _denies(policy: Obj, direction: str) -> bool:
    """A policy selecting every pod that lists ``direction`` and allows nothing in it."""
    spec = mapping(policy.get("spec"))
    selects_all = not mapping(spec.get("podSelector")) or spec.get("podSelector") == {}
    types = [str(t) for t in sequence(spec.get("policyTypes"))]
    if direction == "Ingress" and not types:
        types = ["Ingress"]  # the API defaults policyTypes to Ingress (plus Egress when egress rules exist)
    key = direction.lower()
    return selects_all and direction in types and not sequence(spec.get(key))


def _default_deny(objects: list[SourceObject], config: GateConfig) -> Iterator[tuple[SourceObject, Violation]]:
    policies_by_ns: dict[str | None, list[Obj]] = {}
    for source in objects:
        if source.kind == "NetworkPolicy":
            policies_by_ns.setdefault(source.namespace, []).append(source.obj)
    for source in objects:
        if source.kind != "Namespace":
            continue
        policies = policies_by_ns.get(source.name, [])
        missing = [d for d in ("Ingress", "Egress") if not any(_denies(p, d) for p in policies)]
        if missing:
            yield (
                source,
                Violation(
                    "metadata.name",
                    f"namespace {source.name!r} has no default-deny NetworkPolicy for {' and '.join(missing)}",
                ),
            )


def _allow_all(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    spec = mapping(obj.get("spec"))
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for index, rule in enumerate(sequence(spec.get(direction))):
            rule = mapping(rule)
            peers = sequence(rule.get(peers_key))
            if not peers:
                yield Violation(
                    f"spec.{direction}[{index}]",
                    f"{direction} rule {index} has no '{peers_key}': it allows every peer",
                )
                continue
            for peer_index, peer in enumerate(peers):
                peer = mapping(peer)
                cidr = mapping(peer.get("ipBlock")).get("cidr")
                everything = peer.get("namespaceSelector") == {} and not mapping(peer.get("podSelector"))
                if cidr in ("0.0.0.0/0", "::/0") or everything:
                    whom = "every address" if cidr else "every pod in every namespace"
                    yield Violation(
                        f"spec.{direction}[{index}].{peers_key}[{peer_index}]",
                        f"{direction} rule {index} allows {whom}",
                    )


def _service_exposure(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    spec = mapping(obj.get("spec"))
    if spec.get("type") in ("LoadBalancer", "NodePort"):
        yield Violation("spec.type", f"Service type {spec['type']} exposes the workload outside the cluster")
    if sequence(spec.get("externalIPs")):
        yield Violation("spec.externalIPs", "Service sets externalIPs")


RULES = (
    Rule(
        id="network.default-deny",
        title="Every namespace denies ingress and egress by default",
        severity=Severity.HIGH,
        enforcement=Enforcement.MANDATORY,
        concern="bp:default-deny",
        controls=("cis-k8s:5.3.2", "nist-800-53:SC-7"),
        remediation="Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules "
        "to the namespace (CompliantNamespace does this), then allow declared paths only.",
        doc_url=f"{DOCS}#network-default-deny",
        kinds=frozenset({"Namespace"}),
        inputs=frozenset({"Namespace", "NetworkPolicy"}),
        stack_check=_default_deny,
    ),
    Rule(
        id="network.allow-all",
        title="No NetworkPolicy allows all traffic",
        severity=Severity.HIGH,
        enforcement=Enforcement.MANDATORY,
        concern="bp:network-allow-all",
        controls=("nist-800-53:SC-7",),
        remediation="Name the peers (namespaceSelector + podSelector, or a specific ipBlock) and ports.",
        doc_url=f"{DOCS}#network-allow-all",
        kinds=frozenset({"NetworkPolicy"}),
        check=_allow_all,
    ),
    Rule(
        id="network.service-exposure",
        title="Services are not exposed outside the cluster",
        severity=Severity.HIGH,
        enforcement=Enforcement.MANDATORY,
        concern="bp:service-exposure",
        controls=("nist-800-53:SC-7",),
        remediation="Use type ClusterIP behind an approved ingress; request an exemption for a reviewed exception.",
        doc_url=f"{DOCS}#network-service-exposure",
        kinds=frozenset({"Service"}),
        check=_service_exposure,
    ),
)
