"""WorkloadIsolation: NetworkPolicies generated from declared intent, and nothing else.

The namespace already denies all traffic. For one workload (selected by its labels) this component
opens exactly the declared paths: one ingress policy per ``allow_ingress`` entry, one egress policy
per ``allow_egress`` entry. When a caller lives in a namespace the kit manages (and so also denies
egress by default), the matching egress policy is generated on the caller's side too, so that a
declared path works end to end and an undeclared one does not.

Usage::

    WorkloadIsolation("api-isolation", IsolationArgs(namespace="ml", workload="api",
        selector={"app.kubernetes.io/name": "api"}, ingress=rules, egress=(), ingress_ports=(3000,),
        managed_namespaces=frozenset({"clinic"})), opts=ResourceOptions(parent=self))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes.meta.v1 as meta
import pulumi_kubernetes.networking.v1 as networking

from infra.config import AllowRule


@dataclass(frozen=True)
class IsolationArgs:
    namespace: str
    workload: str
    selector: Mapping[str, str]
    ingress: Sequence[AllowRule] = ()
    egress: Sequence[AllowRule] = ()
    ingress_ports: Sequence[int] = ()
    managed_namespaces: frozenset[str] = field(default_factory=frozenset)


def _peer(rule: AllowRule) -> networking.NetworkPolicyPeerArgsDict:
    if rule.cidr is not None:
        return {"ip_block": {"cidr": rule.cidr}}
    peer: networking.NetworkPolicyPeerArgsDict = {
        "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": str(rule.namespace)}}
    }
    if rule.pod_selector:
        peer["pod_selector"] = {"match_labels": dict(rule.pod_selector)}
    return peer


def _ports(ports: Sequence[tuple[int, str]]) -> list[networking.NetworkPolicyPortArgsDict]:
    return [{"port": port, "protocol": protocol} for port, protocol in ports]


class WorkloadIsolation(pulumi.ComponentResource):
    def __init__(self, resource_name: str, args: IsolationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slipway:network:WorkloadIsolation", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        selector: meta.LabelSelectorArgsDict = {"match_labels": dict(args.selector)}
        ns, workload = args.namespace, args.workload

        for rule in args.ingress:
            ports = [(p.port, p.protocol) for p in rule.ports] or [(p, "TCP") for p in args.ingress_ports]
            networking.NetworkPolicy(
                f"{ns}-{workload}-in-{rule.name}",
                metadata={"name": f"{workload}-allow-from-{rule.name}", "namespace": ns},
                spec={
                    "pod_selector": selector,
                    "policy_types": ["Ingress"],
                    "ingress": [{"from_": [_peer(rule)], "ports": _ports(ports)}],
                },
                opts=child,
            )
            if rule.namespace is not None and rule.namespace in args.managed_namespaces and rule.namespace != ns:
                caller: networking.NetworkPolicyPeerArgsDict = {
                    "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": ns}},
                    "pod_selector": selector,
                }
                networking.NetworkPolicy(
                    f"{rule.namespace}-{workload}-out-{rule.name}",
                    metadata={"name": f"allow-to-{ns}-{workload}", "namespace": rule.namespace},
                    spec={
                        "pod_selector": {"match_labels": dict(rule.pod_selector)},
                        "policy_types": ["Egress"],
                        "egress": [{"to": [caller], "ports": _ports(ports)}],
                    },
                    opts=child,
                )

        for rule in args.egress:
            networking.NetworkPolicy(
                f"{ns}-{workload}-out-{rule.name}",
                metadata={"name": f"{workload}-allow-to-{rule.name}", "namespace": ns},
                spec={
                    "pod_selector": selector,
                    "policy_types": ["Egress"],
                    "egress": [{"to": [_peer(rule)], "ports": _ports([(p.port, p.protocol) for p in rule.ports])}],
                },
                opts=child,
            )
        self.register_outputs({})
