"""Reading Kubernetes objects the way the API server does: pod templates, containers, contexts.

``PodView.of(obj)`` finds the pod spec of any workload kind (Pod, Deployment, StatefulSet,
DaemonSet, ReplicaSet, ReplicationController, Job, CronJob via ``spec.jobTemplate.spec.template``)
and walks containers, initContainers and ephemeralContainers with their JSON paths, so that
every rule reports the exact field it objects to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from policies.model import Obj

TEMPLATE_KINDS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}
POD_KINDS = frozenset({"Pod", *TEMPLATE_KINDS})
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


def mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a mapping, else an empty one (malformed fields never crash a rule)."""
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class ContainerView:
    container: dict[str, Any]
    path: str

    @property
    def name(self) -> str:
        return str(self.container.get("name", "?"))

    @property
    def security_context(self) -> dict[str, Any]:
        return mapping(self.container.get("securityContext"))


@dataclass(frozen=True, slots=True)
class PodView:
    spec: dict[str, Any]
    metadata: dict[str, Any]
    path: str
    """JSON path of the pod spec, e.g. ``spec.template.spec``."""
    meta_path: str

    @classmethod
    def of(cls, obj: Obj) -> PodView | None:
        kind = obj.get("kind")
        if kind == "Pod":
            return cls(mapping(obj.get("spec")), mapping(obj.get("metadata")), "spec", "metadata")
        route = TEMPLATE_KINDS.get(str(kind))
        if route is None:
            return None
        template: Any = obj
        for key in route:
            template = mapping(template).get(key)
        template = mapping(template)
        base = ".".join(route)
        return cls(
            mapping(template.get("spec")),
            mapping(template.get("metadata")),
            f"{base}.spec",
            f"{base}.metadata",
        )

    @property
    def security_context(self) -> dict[str, Any]:
        return mapping(self.spec.get("securityContext"))

    @property
    def annotations(self) -> dict[str, Any]:
        return mapping(self.metadata.get("annotations"))

    @property
    def labels(self) -> dict[str, Any]:
        return mapping(self.metadata.get("labels"))

    @property
    def is_windows(self) -> bool:
        return mapping(self.spec.get("os")).get("name") == "windows"

    @property
    def in_user_namespace(self) -> bool:
        """``hostUsers: false``: the pod runs in its own user namespace (KEP-127)."""
        return self.spec.get("hostUsers") is False

    def containers(self, fields: tuple[str, ...] = CONTAINER_FIELDS) -> Iterator[ContainerView]:
        for field_name in fields:
            for index, container in enumerate(sequence(self.spec.get(field_name))):
                if isinstance(container, dict):
                    yield ContainerView(container, f"{self.path}.{field_name}[{index}]")


def labels_of(obj: Obj) -> dict[str, Any]:
    return mapping(mapping(obj.get("metadata")).get("labels"))


def annotations_of(obj: Obj) -> dict[str, Any]:
    return mapping(mapping(obj.get("metadata")).get("annotations"))


def selector_matches(selector: Any, labels: dict[str, Any]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label set; {} matches all."""
    selector = mapping(selector)
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in sequence(selector.get("matchExpressions")):
        expression = mapping(expression)
        key, operator = str(expression.get("key")), expression.get("operator")
        values = sequence(expression.get("values"))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True
