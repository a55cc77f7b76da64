"""CompliantNamespace: the approved, isolated baseline every slipway namespace starts from.

Creates the namespace with Pod Security admission enforcing, auditing and warning at "restricted"
(pinned to the cluster's version), default-deny NetworkPolicies in both directions, DNS egress to
kube-dns only, a ResourceQuota, a LimitRange and a ServiceAccount without a mounted token.

Usage::

    ns = CompliantNamespace("ml", NamespaceArgs(name="ml", owner="ml-platform", ...))
    ns.name            # Output[str] to pass as a namespace to workloads
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.networking.v1 as networking

WORKLOAD_SERVICE_ACCOUNT = "slipway-workload"
PSS_LEVEL = "restricted"


@dataclass(frozen=True)
class NamespaceArgs:
    name: str
    owner: str
    data_classification: str
    pod_security_version: str
    quota_cpu: str
    quota_memory: str
    quota_pods: int
    default_cpu_request: str = "100m"
    default_memory_request: str = "128Mi"
    default_cpu_limit: str = "500m"
    default_memory_limit: str = "512Mi"


class CompliantNamespace(pulumi.ComponentResource):
    name: pulumi.Output[str]
    service_account: pulumi.Output[str]

    def __init__(self, resource_name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slipway:baseline:CompliantNamespace", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = args.name

        namespace = core.Namespace(
            f"{ns}",
            metadata={"name": ns, "labels": _namespace_labels(args)},
            opts=child,
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        networking.NetworkPolicy(
            f"{ns}-default-deny",
            metadata={"name": "default-deny-all", "namespace": ns},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=in_ns,
        )
        networking.NetworkPolicy(
            f"{ns}-allow-dns",
            metadata={"name": "allow-dns-egress", "namespace": ns},
            spec={
                "pod_selector": {},
                "policy_types": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespace_selector": {"match_labels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "pod_selector": {"match_labels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                    }
                ],
            },
            opts=in_ns,
        )
        core.ResourceQuota(
            f"{ns}-quota",
            metadata={"name": "compute-quota", "namespace": ns},
            spec={
                "hard": {
                    "requests.cpu": args.quota_cpu,
                    "limits.cpu": args.quota_cpu,
                    "requests.memory": args.quota_memory,
                    "limits.memory": args.quota_memory,
                    "pods": str(args.quota_pods),
                    "services.loadbalancers": "0",
                    "services.nodeports": "0",
                    "persistentvolumeclaims": "4",
                }
            },
            opts=in_ns,
        )
        core.LimitRange(
            f"{ns}-limits",
            metadata={"name": "container-defaults", "namespace": ns},
            spec={
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": args.default_cpu_limit, "memory": args.default_memory_limit},
                        "default_request": {
                            "cpu": args.default_cpu_request,
                            "memory": args.default_memory_request,
                        },
                        "max": {"cpu": args.quota_cpu, "memory": args.quota_memory},
                    }
                ]
            },
            opts=in_ns,
        )
        service_account = core.ServiceAccount(
            f"{ns}-workload-sa",
            metadata={"name": WORKLOAD_SERVICE_ACCOUNT, "namespace": ns, "labels": _ownership(args)},
            automount_service_account_token=False,
            opts=in_ns,
        )

        self.name = namespace.metadata.name
        self.service_account = service_account.metadata.name
        self.register_outputs({"name": self.name, "serviceAccount": self.service_account})


def _ownership(args: NamespaceArgs) -> dict[str, str]:
    return {"owner": args.owner, "data-classification": args.data_classification}


def _namespace_labels(args: NamespaceArgs) -> dict[str, str]:
    labels = {"app.kubernetes.io/part-of": "slipway", **_ownership(args)}
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = PSS_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = args.pod_security_version
    return labels
