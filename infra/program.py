"""The slipway Pulumi program: settings -> approved-cluster guard -> components.

``run()`` is what ``pulumi up`` executes. ``build()`` registers the resources and is shared with
``slipway render``, which runs it under Pulumi's mocks; the only difference between the two is that
render has no cluster to guard and no provider to configure.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.components import (
    AlertRules,
    AlertRulesArgs,
    CompliantNamespace,
    Jobs,
    JobsArgs,
    ModelKeys,
    ModelKeysArgs,
    ModelService,
    ModelServiceArgs,
    NamespaceArgs,
)
from infra.components.hardening import standard_labels
from infra.config import StackSettings, load_settings
from infra.guard import verify_cluster
from slipway.errors import SlipwayError


def build(settings: StackSettings, provider: k8s.Provider | None = None) -> None:
    """Register every resource of the stack described by ``settings``."""
    opts = pulumi.ResourceOptions(provider=provider) if provider else None
    managed = frozenset(c.name for c in settings.client_namespaces) | {settings.namespace}

    model_ns = CompliantNamespace(
        settings.namespace,
        _namespace_args(settings, settings.namespace, settings.owner, settings.data_classification),
        opts=opts,
    )
    for client in settings.client_namespaces:
        CompliantNamespace(
            client.name,
            _namespace_args(settings, client.name, client.owner, client.data_classification),
            opts=opts,
        )
    in_model_ns = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[model_ns]))
    ModelKeys(
        "model-keys",
        ModelKeysArgs(
            settings.namespace,
            settings.model_public_key,
            labels=standard_labels(
                "model-keys", "keys", owner=settings.owner, classification=settings.data_classification
            ),
        ),
        opts=in_model_ns,
    )
    service = ModelService(settings.model_name, ModelServiceArgs.from_settings(settings, managed), opts=in_model_ns)
    Jobs("jobs", JobsArgs.from_settings(settings, managed), opts=in_model_ns)
    if settings.prometheus_operator:
        AlertRules(
            "alerts",
            AlertRulesArgs(settings.namespace, settings.owner, settings.data_classification),
            opts=in_model_ns,
        )

    pulumi.export("namespace", model_ns.name)
    pulumi.export("modelService", service.service_name)
    pulumi.export("modelImage", settings.model_image_ref)


def _namespace_args(settings: StackSettings, name: str, owner: str, classification: str) -> NamespaceArgs:
    """Every namespace gets the same baseline; only identity and ownership differ."""
    return NamespaceArgs(
        name=name,
        owner=owner,
        data_classification=classification,
        pod_security_version=settings.pod_security_version,
        quota_cpu=settings.quota_cpu,
        quota_memory=settings.quota_memory,
        quota_pods=settings.quota_pods,
    )


def run() -> None:
    """Entry point for ``pulumi up``: validate, refuse unapproved clusters, then build."""
    try:
        settings = load_settings()
        target = verify_cluster(
            settings.approved_clusters, kubeconfig=settings.kubeconfig, context=settings.kube_context
        )
    except SlipwayError as exc:
        raise pulumi.RunError(str(exc)) from None
    pulumi.log.info(f"cluster guard: {target.context} -> {target.server} is approved as {target.cluster.name}")
    provider = k8s.Provider(
        "approved-cluster",
        kubeconfig=pulumi.Output.secret(target.kubeconfig_text),
        context=target.context,
        enable_server_side_apply=True,
    )
    build(settings, provider)
