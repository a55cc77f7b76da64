"""Model serving: a signed model, scraped for metrics, watched for drift, with a review route,
and alerts that lead to runbooks.

A model-serving workload is a Deployment or StatefulSet labelled
``app.kubernetes.io/component: model-server`` (what ``ModelService`` creates).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from policies.config import SERVING_COMPONENT, GateConfig
from policies.k8s import PodView, annotations_of, labels_of, mapping, selector_matches, sequence
from policies.model import Enforcement, Obj, Rule, Severity, SourceObject, Violation

DOCS = "policies/RULES.md"
DIGEST_ANNOTATION = "slipway.dev/model-digest"
SIGNATURE_ANNOTATION = "slipway.dev/model-signature"
REVIEW_ANNOTATION = "slipway.dev/review-route"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
SERVING_KINDS = frozenset({"Deployment", "StatefulSet"})


def is_model_server(obj: Obj) -> bool:
    return obj.get("kind") in SERVING_KINDS and labels_of(obj).get("app.kubernetes.io/component") == SERVING_COMPONENT


def _annotation(obj: Obj, key: str) -> str | None:
    pod = PodView.of(obj)
    value = (pod.annotations if pod else {}).get(key, annotations_of(obj).get(key))
    return None if value is None else str(value)


def _model_signature(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    if not is_model_server(obj):
        return
    digest = _annotation(obj, DIGEST_ANNOTATION)
    if digest is None or not DIGEST.match(digest):
        yield Violation(
            f"spec.template.metadata.annotations['{DIGEST_ANNOTATION}']",
            f"model server has no valid {DIGEST_ANNOTATION} (sha256:<64 hex>)",
        )
    signature = _annotation(obj, SIGNATURE_ANNOTATION)
    try:
        valid = signature is not None and len(base64.b64decode(signature, validate=True)) == 64
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        yield Violation(
            f"spec.template.metadata.annotations['{SIGNATURE_ANNOTATION}']",
            f"model server has no valid {SIGNATURE_ANNOTATION} (base64 Ed25519 signature)",
        )


def _review_route(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    if is_model_server(obj) and not _annotation(obj, REVIEW_ANNOTATION):
        yield Violation(
            f"spec.template.metadata.annotations['{REVIEW_ANNOTATION}']",
            "model server names no review route for low-confidence and high-stakes decisions",
        )


def _metrics_scrape(objects: list[SourceObject], config: GateConfig) -> Iterator[tuple[SourceObject, Violation]]:
    services = [o for o in objects if o.kind == "Service"]
    monitors = [o for o in objects if o.kind in ("ServiceMonitor", "PodMonitor")]
    for source in objects:
        if not is_model_server(source.obj):
            continue
        pod = PodView.of(source.obj)
        labels = pod.labels if pod else {}
        if (pod.annotations if pod else {}).get("prometheus.io/scrape") == "true":
            continue
        selecting = [
            s
            for s in services
            if s.namespace == source.namespace
            and mapping(mapping(s.obj.get("spec")).get("selector"))
            and all(labels.get(k) == v for k, v in mapping(mapping(s.obj.get("spec")).get("selector")).items())
        ]
        scraped = any(_monitor_covers(m, source.namespace, labels, selecting) for m in monitors)
        if not scraped:
            yield (
                source,
                Violation(
                    "spec.template.metadata.annotations",
                    "model server is not scraped: no prometheus.io/scrape annotation and no ServiceMonitor/PodMonitor",
                ),
            )


def _monitor_covers(
    monitor: SourceObject, namespace: str | None, pod_labels: dict[str, object], services: list[SourceObject]
) -> bool:
    spec = mapping(monitor.obj.get("spec"))
    names = sequence(mapping(spec.get("namespaceSelector")).get("matchNames"))
    in_scope = mapping(spec.get("namespaceSelector")).get("any") is True or (
        namespace in names if names else monitor.namespace == namespace
    )
    if not in_scope:
        return False
    if monitor.kind == "PodMonitor":
        return selector_matches(spec.get("selector"), pod_labels)
    return any(selector_matches(spec.get("selector"), labels_of(s.obj)) for s in services)


def _drift_job(objects: list[SourceObject], config: GateConfig) -> Iterator[tuple[SourceObject, Violation]]:
    drift_namespaces = set()
    for source in objects:
        if source.kind != "CronJob":
            continue
        pod = PodView.of(source.obj)
        for c in pod.containers() if pod else ():
            words = [str(w) for w in (*sequence(c.container.get("command")), *sequence(c.container.get("args")))]
            if "drift" in words:
                drift_namespaces.add(source.namespace)
    for source in objects:
        if is_model_server(source.obj) and source.namespace not in drift_namespaces:
            yield (
                source,
                Violation(
                    "metadata.namespace",
                    f"no CronJob in namespace {source.namespace!r} runs `slipway drift report` for this model",
                ),
            )


FILE_STORES = ("sqlite:", "/", "file:")
REVIEW_QUEUE_ENV = "SLIPWAY_REVIEW_QUEUE"


def _file_backed_queue(pod: PodView) -> tuple[str, str] | None:
    """(path, value) of a model-server container whose review queue is a file; None when shared.

    A queue from a Secret (``valueFrom``) is taken as the shared store's DSN; an unset queue is the
    server's default, a SQLite file under $SLIPWAY_HOME."""
    for c in pod.containers(("containers",)):
        env = [mapping(e) for e in sequence(c.container.get("env"))]
        found = next(((i, e) for i, e in enumerate(env) if e.get("name") == REVIEW_QUEUE_ENV), None)
        if found is None:
            return f"{c.path}.env", "(unset: SQLite under $SLIPWAY_HOME)"
        index, entry = found
        value = entry.get("value")
        if isinstance(value, str) and value.startswith(FILE_STORES):
            return f"{c.path}.env[{index}].value", value
    return None


def _review_store(objects: list[SourceObject], config: GateConfig) -> Iterator[tuple[SourceObject, Violation]]:
    scaling = {}
    for o in objects:
        if o.kind == "HorizontalPodAutoscaler":
            target = mapping(mapping(o.obj.get("spec")).get("scaleTargetRef"))
            scaling[(o.namespace, target.get("kind"), target.get("name"))] = mapping(o.obj.get("spec")).get(
                "maxReplicas"
            )
    for source in objects:
        pod = PodView.of(source.obj)
        if pod is None or not is_model_server(source.obj):
            continue
        replicas = mapping(source.obj.get("spec")).get("replicas", 1)
        most = max(
            (n for n in (replicas, scaling.get((source.namespace, source.kind, source.name))) if isinstance(n, int)),
            default=1,
        )
        queue = _file_backed_queue(pod)
        if most >= 2 and queue is not None:
            path, value = queue
            yield (
                source,
                Violation(
                    path,
                    f"{source.kind} may run {most} replicas but its review queue is a file ({value}): each pod "
                    "would keep its own queue and reviews would be lost between them",
                ),
            )


def _runbook_url(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    for g, group in enumerate(sequence(mapping(obj.get("spec")).get("groups"))):
        for r, rule in enumerate(sequence(mapping(group).get("rules"))):
            rule = mapping(rule)
            if "alert" in rule and not mapping(rule.get("annotations")).get("runbook_url"):
                yield Violation(
                    f"spec.groups[{g}].rules[{r}].annotations.runbook_url",
                    f"alert {rule.get('alert')!r} has no runbook_url",
                )


def _serving(
    rule_id: str, concern: str, title: str, remediation: str, controls: tuple[str, ...], **checks: object
) -> Rule:
    return Rule(
        id=rule_id,
        title=title,
        severity=Severity.HIGH,
        enforcement=Enforcement.MANDATORY,
        concern=f"bp:{concern}",
        controls=controls,
        remediation=remediation,
        doc_url=f"{DOCS}#{rule_id.replace('.', '-')}",
        **checks,  # type: ignore[arg-type]
    )


RULES = (
    _serving(
        "serving.model-signature",
        "model-signature",
        "Model servers carry the model digest and signature",
        f"Deploy with ModelService (it sets {DIGEST_ANNOTATION} and {SIGNATURE_ANNOTATION} from "
        "`slipway train`), or add both annotations to the pod template.",
        ("nist-800-53:SI-7",),
        check=_model_signature,
        kinds=SERVING_KINDS,
    ),
    _serving(
        "serving.metrics-scrape",
        "metrics-scrape",
        "Model servers are scraped for metrics",
        "Add prometheus.io/scrape: 'true' to the pod template, or a ServiceMonitor selecting its Service.",
        ("nist-800-53:SI-4",),
        stack_check=_metrics_scrape,
        kinds=SERVING_KINDS,
        inputs=SERVING_KINDS | {"Service", "ServiceMonitor", "PodMonitor"},
    ),
    _serving(
        "serving.drift-job",
        "drift-job",
        "Each model has a drift-report job",
        "Deploy the Jobs component (a CronJob running `slipway drift report`) in the model's namespace.",
        ("nist-800-53:SI-4", "nist-800-53:CA-7"),
        stack_check=_drift_job,
        kinds=SERVING_KINDS,
        inputs=SERVING_KINDS | {"CronJob"},
    ),
    _serving(
        "serving.review-route",
        "review-route",
        "Model servers route uncertain decisions to human review",
        f"Set the {REVIEW_ANNOTATION} annotation (ModelService sets it from slipway:reviewRoute).",
        ("nist-800-53:SI-10",),
        check=_review_route,
        kinds=SERVING_KINDS,
    ),
    _serving(
        "serving.review-store",
        "review-store",
        "Model servers with more than one replica share one review store",
        f"Give {REVIEW_QUEUE_ENV} a PostgreSQL DSN from a Secret (ModelService does with "
        "slipway:reviewStoreSecret), or run exactly one replica without an autoscaler above 1.",
        ("nist-800-53:SI-10", "nist-800-53:CP-9"),
        stack_check=_review_store,
        kinds=SERVING_KINDS,
        inputs=SERVING_KINDS | {"HorizontalPodAutoscaler"},
    ),
    _serving(
        "serving.runbook-url",
        "runbook-url",
        "Every alert links to its runbook",
        "Add annotations.runbook_url to every alerting rule (`slipway runbooks` generates them).",
        ("nist-800-53:IR-4",),
        check=_runbook_url,
        kinds=frozenset({"PrometheusRule"}),
    ),
)
