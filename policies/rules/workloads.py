"""Workload best practices: sized, probed, immutable, pinned, from approved registries, labelled,
out of the default namespace, without service-account tokens, and highly available when serving."""

from __future__ import annotations

import re
from collections.abc import Iterator

from policies.config import GateConfig
from policies.k8s import POD_KINDS, PodView, labels_of, mapping, selector_matches
from policies.model import Enforcement, Obj, Rule, Severity, SourceObject, Violation

DOCS = "policies/RULES.md"
LONG_RUNNING = frozenset({"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"})
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "IngressClass",
        "RuntimeClass",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "APIService",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "CertificateSigningRequest",
        "ComponentStatus",
        "List",
    }
)
SERVING_KINDS = frozenset({"Deployment", "StatefulSet"})


def _resource_limits(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for c in pod.containers(("initContainers", "containers")):
        resources = mapping(c.container.get("resources"))
        requests, limits = mapping(resources.get("requests")), mapping(resources.get("limits"))
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests]
        missing += [f"limits.{r}" for r in ("memory",) if r not in limits]
        if missing:
            yield Violation(f"{c.path}.resources", f"container {c.name!r} sets no {', '.join(missing)}")


def _probes(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for c in pod.containers(("containers",)):
        missing = [p for p in ("livenessProbe", "readinessProbe") if not mapping(c.container.get(p))]
        if missing:
            yield Violation(f"{c.path}.{missing[0]}", f"container {c.name!r} has no {' or '.join(missing)}")


def _read_only_root(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for c in pod.containers(("initContainers", "containers")):
        if c.security_context.get("readOnlyRootFilesystem") is not True:
            yield Violation(
                f"{c.path}.securityContext.readOnlyRootFilesystem",
                f"container {c.name!r} must set readOnlyRootFilesystem=true",
            )


def _image_pinning(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    for c in pod.containers():
        image = str(c.container.get("image", ""))
        if not DIGEST.search(image):
            yield Violation(f"{c.path}.image", f"container {c.name!r} image {image!r} is not pinned by @sha256 digest")


def image_registry(image: str) -> str:
    """The registry host of an image reference (Docker's rules: no dot/colon/localhost = Docker Hub)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _image_registries(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    if not config.approved_registries:
        return
    for c in pod.containers():
        image = str(c.container.get("image", ""))
        if image_registry(image) not in config.approved_registries:
            yield Violation(
                f"{c.path}.image",
                f"container {c.name!r} image {image!r} is not from an approved registry "
                f"({', '.join(config.approved_registries)})",
            )


def _default_namespace(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    if obj.get("kind") in CLUSTER_SCOPED:
        return
    namespace = mapping(obj.get("metadata")).get("namespace")
    if namespace in (None, "", "default"):
        shown = "no namespace (falls back to 'default')" if not namespace else "the 'default' namespace"
        yield Violation("metadata.namespace", f"{obj.get('kind')} is in {shown}")


def _required_labels(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    labels = labels_of(obj)
    missing = [label for label in config.required_labels if not labels.get(label)]
    if missing:
        yield Violation("metadata.labels", f"missing required label(s) {', '.join(missing)}")


def _service_account_token(pod: PodView, config: GateConfig) -> Iterator[Violation]:
    if pod.spec.get("automountServiceAccountToken") is not False:
        yield Violation(
            f"{pod.path}.automountServiceAccountToken",
            "pod must set automountServiceAccountToken=false (mount a projected token only where needed)",
        )


def _replicas_pdb(objects: list[SourceObject], config: GateConfig) -> Iterator[tuple[SourceObject, Violation]]:
    budgets = [o for o in objects if o.kind == "PodDisruptionBudget"]
    for source in objects:
        if source.kind not in SERVING_KINDS:
            continue
        spec = mapping(source.obj.get("spec"))
        replicas = spec.get("replicas", 1)
        if isinstance(replicas, int) and replicas < 2:
            yield (
                source,
                Violation("spec.replicas", f"{source.kind} runs {replicas} replica(s); serving needs ≥ 2"),
            )
        pod = PodView.of(source.obj)
        labels = pod.labels if pod else {}
        covered = any(
            b.namespace == source.namespace and selector_matches(mapping(b.obj.get("spec")).get("selector"), labels)
            for b in budgets
            if mapping(mapping(b.obj.get("spec")).get("selector"))
        )
        if not covered:
            yield (
                source,
                Violation("spec.template.metadata.labels", "no PodDisruptionBudget selects these pods"),
            )


def _bp(
    concern: str,
    rule_id: str,
    title: str,
    severity: Severity,
    enforcement: Enforcement,
    controls: tuple[str, ...],
    remediation: str,
    **checks: object,
) -> Rule:
    return Rule(
        id=rule_id,
        title=title,
        severity=severity,
        enforcement=enforcement,
        concern=f"bp:{concern}",
        controls=controls,
        remediation=remediation,
        doc_url=f"{DOCS}#{rule_id.replace('.', '-')}",
        **checks,  # type: ignore[arg-type]
    )


RULES = (
    _bp(
        "resource-limits",
        "workload.resource-limits",
        "Containers request CPU and memory and cap memory",
        Severity.MEDIUM,
        Enforcement.MANDATORY,
        ("cis-k8s:5.7.3", "nist-800-53:SC-6"),
        "Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every container.",
        pod_check=_resource_limits,
    ),
    _bp(
        "probes",
        "workload.probes",
        "Long-running containers have liveness and readiness probes",
        Severity.LOW,
        Enforcement.ADVISORY,
        ("nist-800-53:SI-4",),
        "Add livenessProbe and readinessProbe (BentoML serves /livez and /readyz).",
        pod_check=_probes,
        kinds=LONG_RUNNING,
    ),
    _bp(
        "read-only-root-filesystem",
        "workload.read-only-root-filesystem",
        "Root filesystems are read-only",
        Severity.MEDIUM,
        Enforcement.MANDATORY,
        ("nist-800-53:CM-5",),
        "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the process writes.",
        pod_check=_read_only_root,
    ),
    _bp(
        "image-pinning",
        "workload.image-pinning",
        "Images are pinned by digest",
        Severity.HIGH,
        Enforcement.MANDATORY,
        ("cis-k8s:5.5.1", "nist-800-53:SI-7"),
        "Reference images as registry/repository@sha256:<digest> (a tag can be moved, a digest cannot).",
        pod_check=_image_pinning,
    ),
    _bp(
        "image-registries",
        "workload.image-registries",
        "Images come from approved registries",
        Severity.HIGH,
        Enforcement.MANDATORY,
        ("cis-k8s:5.5.1", "nist-800-53:CM-7"),
        "Pull images from a registry listed in approvedRegistries (mirror public images there first).",
        pod_check=_image_registries,
    ),
    _bp(
        "default-namespace",
        "workload.default-namespace",
        "Objects are not in the default namespace",
        Severity.MEDIUM,
        Enforcement.MANDATORY,
        ("cis-k8s:5.7.4", "nist-800-53:SC-7"),
        "Set metadata.namespace to a namespace created with the compliant baseline.",
        check=_default_namespace,
    ),
    _bp(
        "required-labels",
        "workload.required-labels",
        "Objects carry the required labels",
        Severity.LOW,
        Enforcement.ADVISORY,
        ("nist-800-53:CM-8",),
        "Add the labels listed in requiredLabels (ownership and classification make incidents routable).",
        check=_required_labels,
        kinds=POD_KINDS | {"Service"},
    ),
    _bp(
        "service-account-token",
        "workload.service-account-token",
        "Service-account tokens are not mounted",
        Severity.MEDIUM,
        Enforcement.MANDATORY,
        ("cis-k8s:5.1.6", "nist-800-53:AC-6"),
        "Set automountServiceAccountToken: false on the pod spec; mount a projected token only where needed.",
        pod_check=_service_account_token,
    ),
    _bp(
        "replicas-pdb",
        "workload.replicas-pdb",
        "Serving workloads run ≥ 2 replicas with a PodDisruptionBudget",
        Severity.MEDIUM,
        Enforcement.ADVISORY,
        ("nist-800-53:CP-10", "nist-800-53:SC-5"),
        "Run at least two replicas and add a PodDisruptionBudget whose selector matches the pod labels.",
        stack_check=_replicas_pdb,
        kinds=SERVING_KINDS,
        inputs=SERVING_KINDS | {"PodDisruptionBudget"},
    ),
)
