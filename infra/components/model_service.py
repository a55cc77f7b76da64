"""ModelService: the BentoML model server as a hardened, highly available Kubernetes service.

Deployment (image pinned by digest, restricted security context, probes on BentoML's /livez and
/readyz, topology spread), ClusterIP Service, PodDisruptionBudget, HorizontalPodAutoscaler, the
model artifact's digest and signature as annotations, metrics scraping (ServiceMonitor or scrape
annotations) and the NetworkPolicies generated from declared intent.

Usage::

    ModelService("classifier", ModelServiceArgs.from_settings(settings, managed_namespaces))
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes.apiextensions as apiextensions
import pulumi_kubernetes.apps.v1 as apps
import pulumi_kubernetes.autoscaling.v2 as autoscaling
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.policy.v1 as policy

from infra.components import hardening
from infra.components import runtime_volumes as rv
from infra.components.isolation import IsolationArgs, WorkloadIsolation
from infra.components.namespace import WORKLOAD_SERVICE_ACCOUNT
from infra.config import AllowRule, StackSettings

HTTP_PORT = 3000
ANNOTATION_PREFIX = "slipway.dev"
MODEL_DIGEST_ANNOTATION = f"{ANNOTATION_PREFIX}/model-digest"
MODEL_SIGNATURE_ANNOTATION = f"{ANNOTATION_PREFIX}/model-signature"
REVIEW_ROUTE_ANNOTATION = f"{ANNOTATION_PREFIX}/review-route"


@dataclass(frozen=True)
class ModelServiceArgs:
    namespace: str
    name: str
    image: str
    owner: str
    data_classification: str
    model_digest: str
    model_signature: str
    review_route: str
    review_store_secret: str | None
    keys_secret: str
    auth_env: tuple[tuple[str, str], ...]
    replicas: int
    max_replicas: int
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    autoscale_cpu_utilization: int
    spread_strict: bool
    prometheus_operator: bool
    monitoring_namespace: str
    allow_ingress: Sequence[AllowRule]
    allow_egress: Sequence[AllowRule]
    managed_namespaces: frozenset[str]

    @classmethod
    def from_settings(cls, s: StackSettings, managed_namespaces: frozenset[str]) -> ModelServiceArgs:
        return cls(
            namespace=s.namespace,
            name=s.model_name,
            image=s.model_image_ref,
            owner=s.owner,
            data_classification=s.data_classification,
            model_digest=s.model_artifact_digest,
            model_signature=s.model_signature,
            review_route=s.review_route,
            review_store_secret=s.review_store_secret,
            keys_secret=s.keys_secret,
            auth_env=auth_env(s),
            replicas=s.model_replicas,
            max_replicas=s.model_max_replicas,
            cpu_request=s.model_cpu_request,
            cpu_limit=s.model_cpu_limit,
            memory_request=s.model_memory_request,
            memory_limit=s.model_memory_limit,
            autoscale_cpu_utilization=s.autoscale_cpu_utilization,
            spread_strict=s.spread_strict,
            prometheus_operator=s.prometheus_operator,
            monitoring_namespace=s.monitoring_namespace,
            allow_ingress=s.allow_ingress,
            allow_egress=s.allow_egress,
            managed_namespaces=managed_namespaces,
        )


class ModelService(pulumi.ComponentResource):
    service_name: pulumi.Output[str]

    def __init__(self, resource_name: str, args: ModelServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slipway:serving:ModelService", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns, name = args.namespace, args.name
        labels = hardening.standard_labels(
            name, "model-server", owner=args.owner, classification=args.data_classification
        )
        selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "model-server"}
        model_annotations = {
            MODEL_DIGEST_ANNOTATION: args.model_digest,
            MODEL_SIGNATURE_ANNOTATION: args.model_signature,
            REVIEW_ROUTE_ANNOTATION: _review_route(args),
        }
        pod_annotations = dict(model_annotations)
        if not args.prometheus_operator:
            pod_annotations.update(
                {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(HTTP_PORT),
                    "prometheus.io/path": "/metrics",
                }
            )

        apps.Deployment(
            f"{ns}-{name}",
            metadata={"name": name, "namespace": ns, "labels": labels, "annotations": model_annotations},
            spec={
                "replicas": args.replicas,
                "revision_history_limit": 5,
                "selector": {"match_labels": selector},
                "strategy": _strategy(args),
                "template": {
                    "metadata": {"labels": labels, "annotations": pod_annotations},
                    "spec": {
                        "service_account_name": WORKLOAD_SERVICE_ACCOUNT,
                        "automount_service_account_token": False,
                        "enable_service_links": False,
                        "security_context": hardening.pod_security_context(),
                        "termination_grace_period_seconds": 30,
                        "topology_spread_constraints": _spread(selector, strict=args.spread_strict),
                        "containers": [_server_container(args)],
                        "volumes": _server_volumes(args),
                    },
                },
            },
            opts=child,
        )
        service = core.Service(
            f"{ns}-{name}-svc",
            metadata={"name": name, "namespace": ns, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": HTTP_PORT, "target_port": "http", "protocol": "TCP"}],
            },
            opts=child,
        )
        disruption: policy.PodDisruptionBudgetSpecArgsDict = (
            {"min_available": args.replicas - 1} if args.replicas > 1 else {"max_unavailable": 1}
        )  # one replica: never block a node drain (the single pod is the accepted risk)
        policy.PodDisruptionBudget(
            f"{ns}-{name}-pdb",
            metadata={"name": name, "namespace": ns, "labels": labels},
            spec={**disruption, "selector": {"match_labels": selector}},
            opts=child,
        )
        if args.max_replicas > 1:
            _autoscaler(args, labels, child)
        if args.prometheus_operator:
            apiextensions.CustomResource(
                f"{ns}-{name}-servicemonitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata={"name": name, "namespace": ns, "labels": labels},
                spec={
                    "selector": {"matchLabels": selector},
                    "namespaceSelector": {"matchNames": [ns]},
                    "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
                },
                opts=child,
            )

        scrape = AllowRule(name="metrics-scrape", namespace=args.monitoring_namespace)
        WorkloadIsolation(
            f"{ns}-{name}-isolation",
            IsolationArgs(
                namespace=ns,
                workload=name,
                selector=selector,
                ingress=(*args.allow_ingress, scrape),
                egress=tuple(args.allow_egress),
                ingress_ports=(HTTP_PORT,),
                managed_namespaces=args.managed_namespaces,
            ),
            opts=child,
        )
        self.service_name = service.metadata.name
        self.register_outputs({"serviceName": self.service_name})


def _autoscaler(args: ModelServiceArgs, labels: dict[str, str], child: pulumi.ResourceOptions) -> None:
    ns, name = args.namespace, args.name
    autoscaling.HorizontalPodAutoscaler(
        f"{ns}-{name}-hpa",
        metadata={"name": name, "namespace": ns, "labels": labels},
        spec={
            "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": name},
            "min_replicas": args.replicas,
            "max_replicas": args.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "average_utilization": args.autoscale_cpu_utilization},
                    },
                }
            ],
        },
        opts=child,
    )


def _strategy(args: ModelServiceArgs) -> apps.DeploymentStrategyArgsDict:
    """Rolling updates need a shared store; the single SQLite pod holds a ReadWriteOnce volume, so
    its replacement can only start once it has stopped."""
    if args.review_store_secret is None:
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": 1}}


def _review_route(args: ModelServiceArgs) -> str:
    if args.review_store_secret is None:
        return args.review_route
    return f"postgresql (secret {args.review_store_secret}, key dsn)"


def _review_queue_env(args: ModelServiceArgs) -> core.EnvVarArgsDict:
    if args.review_store_secret is None:
        return rv.env("SLIPWAY_REVIEW_QUEUE", args.review_route)
    return {
        "name": "SLIPWAY_REVIEW_QUEUE",
        "value_from": {"secret_key_ref": {"name": args.review_store_secret, "key": "dsn"}},
    }


def auth_env(s: StackSettings) -> tuple[tuple[str, str], ...]:
    """Whom the server trusts (slipway/identity/settings.py); no issuer: every review request is refused."""
    if s.auth_issuer is None or s.auth_jwks_url is None:
        return ()
    return (
        ("SLIPWAY_AUTH_ISSUER", s.auth_issuer),
        ("SLIPWAY_AUTH_JWKS_URL", s.auth_jwks_url),
        ("SLIPWAY_AUTH_AUDIENCE", s.auth_audience),
        ("SLIPWAY_AUTH_ROLE_CLAIM", s.auth_role_claim),
        ("SLIPWAY_AUTH_ROLE_MAP", json.dumps(s.role_map(), sort_keys=True)),
        ("SLIPWAY_AUTH_PREDICT", "true" if s.auth_predict else "false"),
    )


def _server_volumes(args: ModelServiceArgs) -> list[core.VolumeArgsDict]:
    state = (
        rv.state_volume()
        if args.review_store_secret is None
        else rv.scratch_volume(rv.STATE_VOLUME, "256Mi")  # the queue is elsewhere; audit and reports stay per pod
    )
    return [
        hardening.tmp_volume(),
        rv.scratch_volume(rv.BENTOML_VOLUME, "512Mi"),
        rv.keys_volume(secret=args.keys_secret, secret_items=("review.key",)),
        state,
    ]


def _server_container(args: ModelServiceArgs) -> core.ContainerArgsDict:
    return {
        "name": "model-server",
        "image": args.image,
        "image_pull_policy": "IfNotPresent",
        "command": ["slipway", "serve", "--host", "0.0.0.0", "--port", str(HTTP_PORT)],
        "ports": [{"name": "http", "container_port": HTTP_PORT, "protocol": "TCP"}],
        "env": [
            *hardening.COMPLIANCE_ENV,
            rv.env("SLIPWAY_HOME", rv.STATE_PATH),
            rv.env("SLIPWAY_KEYS", rv.KEYS_PATH),
            rv.env("BENTOML_HOME", rv.BENTOML_PATH),
            rv.env("SLIPWAY_MODEL_DIGEST", args.model_digest),
            rv.env("SLIPWAY_SERVER_REPLICAS", str(args.max_replicas)),
            _review_queue_env(args),
            *(rv.env(name, value) for name, value in args.auth_env),
        ],
        "resources": {
            "requests": {"cpu": args.cpu_request, "memory": args.memory_request},
            "limits": {"cpu": args.cpu_limit, "memory": args.memory_limit},
        },
        "startup_probe": {
            "http_get": {"path": "/livez", "port": "http"},
            "period_seconds": 5,
            "failure_threshold": 24,
        },
        "liveness_probe": {
            "http_get": {"path": "/livez", "port": "http"},
            "period_seconds": 10,
            "timeout_seconds": 2,
            "failure_threshold": 3,
        },
        "readiness_probe": {
            "http_get": {"path": "/readyz", "port": "http"},
            "period_seconds": 5,
            "timeout_seconds": 2,
            "failure_threshold": 2,
        },
        "security_context": hardening.container_security_context(),
        "volume_mounts": [
            hardening.tmp_mount(),
            rv.mount(rv.BENTOML_VOLUME, rv.BENTOML_PATH),
            rv.keys_mount(),
            rv.mount(rv.STATE_VOLUME, rv.STATE_PATH),
        ],
    }


def _spread(selector: dict[str, str], *, strict: bool) -> list[core.TopologySpreadConstraintArgsDict]:
    return [
        {
            "max_skew": 1,
            "topology_key": "kubernetes.io/hostname",
            "when_unsatisfiable": "DoNotSchedule" if strict else "ScheduleAnyway",
            "label_selector": {"match_labels": selector},
        },
        {
            "max_skew": 1,
            "topology_key": "topology.kubernetes.io/zone",
            "when_unsatisfiable": "ScheduleAnyway",
            "label_selector": {"match_labels": selector},
        },
    ]
