"""The CrossGuard policy pack: the gate's rules, served to `pulumi preview --policy-pack policies/`.

Each rule becomes a policy named after its rule id: object and pod rules become resource policies,
cross-object rules become stack policies, with the rule's severity, enforcement, compliance
framework mappings, remediation and URL. Resource properties arrive as protobuf values (numbers as
floats), so they are restored to plain Kubernetes objects before the very same rule functions run.

Policy config (``pulumi preview --policy-pack-config``) per policy: ``enforcementLevel`` as for any
CrossGuard policy; ``podSecurityVersion`` for pod.* policies; ``approvedRegistries`` for
workload.image-registries; ``requiredLabels`` for workload.required-labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.config import DEFAULT_REQUIRED_LABELS, GateConfig, parse_version
from policies.k8s import POD_KINDS, PodView
from policies.model import Enforcement, Rule, SourceObject, Violation
from policies.rules import ALL_RULES
from slipway.objects import restore_integers

PACK_NAME = "slipway"
CONFIG_SCHEMAS: dict[str, PolicyConfigSchema] = {
    "workload.image-registries": PolicyConfigSchema(
        properties={"approvedRegistries": {"type": "array", "items": {"type": "string"}, "default": []}}
    ),
    "workload.required-labels": PolicyConfigSchema(
        properties={
            "requiredLabels": {"type": "array", "items": {"type": "string"}, "default": list(DEFAULT_REQUIRED_LABELS)}
        }
    ),
}
PSS_SCHEMA = PolicyConfigSchema(properties={"podSecurityVersion": {"type": "string", "default": "latest"}})


def kubernetes_object(resource_type: str, props: Mapping[str, Any]) -> dict[str, Any] | None:
    """The Kubernetes object behind a pulumi-kubernetes resource, or None for anything else."""
    if not resource_type.startswith("kubernetes:"):
        return None
    obj = restore_integers(props)
    return obj if isinstance(obj, dict) and obj.get("apiVersion") and obj.get("kind") else None


def gate_config(config: Mapping[str, Any] | None) -> GateConfig:
    config = config or {}
    return GateConfig(
        pod_security_version=parse_version(config.get("podSecurityVersion", "latest"), "policy config"),
        approved_registries=tuple(config.get("approvedRegistries", ())),
        required_labels=tuple(config.get("requiredLabels", DEFAULT_REQUIRED_LABELS)),
    )


def describe(violation: Violation, rule: Rule) -> str:
    """One violation as the engine shows it: message, field, control mappings, the fix."""
    return (
        f"{violation.message} (at {violation.path}) [{', '.join(rule.controls_for(violation))}]\n"
        f"Fix: {rule.remediation}"
    )


def _resource_validator(rule: Rule) -> Any:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        obj = kubernetes_object(args.resource_type, args.props)
        if obj is None or (rule.kinds is not None and obj["kind"] not in rule.kinds):
            return
        config = gate_config(args.get_config())
        if rule.check is not None:
            found = rule.check(obj, config)
        elif obj["kind"] in POD_KINDS and (pod := PodView.of(obj)) is not None:
            assert rule.pod_check is not None
            found = rule.pod_check(pod, config)
        else:
            return
        for violation in found:
            report_violation(describe(violation, rule), None)

    return validate


def _stack_validator(rule: Rule) -> Any:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        sources, urns = [], {}
        for resource in args.resources:
            obj = kubernetes_object(resource.resource_type, resource.props)
            if obj is not None:
                source = SourceObject(obj, resource.urn, 0)
                sources.append(source)
                urns[id(source)] = resource.urn
        assert rule.stack_check is not None
        for source, violation in rule.stack_check(sources, gate_config(args.get_config())):
            report_violation(describe(violation, rule), urns[id(source)])

    return validate


def _framework(rule: Rule) -> PolicyComplianceFramework:
    if rule.concern.startswith("pss:"):
        control = rule.concern.removeprefix("pss:")
        return PolicyComplianceFramework(name="Pod Security Standards", version="latest", reference=control)
    return PolicyComplianceFramework(name="slipway best practices", version="1", reference=rule.concern)


def build_policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    policies: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule in ALL_RULES:
        common: dict[str, Any] = {
            "name": rule.id,
            "description": f"{rule.title} ({rule.concern})",
            "enforcement_level": EnforcementLevel(rule.enforcement.value),
            "severity": Severity(rule.severity.value),
            "framework": _framework(rule),
            "tags": [rule.concern, *rule.controls],
            "remediation_steps": rule.remediation,
            "url": rule.doc_url if rule.doc_url.startswith("https://") else None,
            "config_schema": PSS_SCHEMA if rule.concern.startswith("pss:") else CONFIG_SCHEMAS.get(rule.id),
        }
        if rule.stack_check is not None:
            policies.append(StackValidationPolicy(validate=_stack_validator(rule), **common))
        else:
            policies.append(ResourceValidationPolicy(validate=_resource_validator(rule), **common))
    return policies


def serve() -> None:
    """Start the analyzer (prints its gRPC port on stdout and serves until killed)."""
    PolicyPack(
        name=PACK_NAME,
        description="slipway compliance rules: Pod Security Standards, workload, network, RBAC, secrets and "
        "model-serving best practices; the same rules as `slipway gate`.",
        policies=build_policies(),  # type: ignore[arg-type]
        enforcement_level=EnforcementLevel(Enforcement.ADVISORY.value),
    )
