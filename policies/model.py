"""The gate's vocabulary: rules, the violations they yield, and the findings the gate reports.

A rule is a plain function plus metadata. Object rules look at one object (``check``); pod rules
look at one pod template (``pod_check``, fed every Pod, Deployment, StatefulSet, DaemonSet,
ReplicaSet, Job and CronJob); stack rules look at all objects at once (``stack_check``) for
cross-object concerns such as "every namespace has default-deny".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from policies.config import GateConfig
    from policies.k8s import PodView

Obj = dict[str, Any]


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Enforcement(StrEnum):
    MANDATORY = "mandatory"
    ADVISORY = "advisory"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Violation:
    """What a rule function yields: where (JSON path in the object), what, and PSS levels broken."""

    path: str
    message: str
    levels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceObject:
    """One Kubernetes object as read from the input, with where it came from."""

    obj: Obj
    file: str
    line: int

    @property
    def api_version(self) -> str:
        return str(self.obj.get("apiVersion", ""))

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        value = (self.obj.get("metadata") or {}).get("namespace")
        return None if value is None else str(value)


ObjectCheck = Callable[[Obj, "GateConfig"], Iterable[Violation]]
PodCheck = Callable[["PodView", "GateConfig"], Iterable[Violation]]
StackCheck = Callable[[list[SourceObject], "GateConfig"], Iterable[tuple[SourceObject, Violation]]]


@dataclass(frozen=True)
class Rule:
    """A rule and everything a report needs to explain it.

    ``concern`` is ``pss:<control>`` for Pod Security rules (the level comes from each violation)
    or ``bp:<id>`` for the kit's best practices.
    """

    id: str
    title: str
    severity: Severity
    enforcement: Enforcement
    concern: str
    controls: tuple[str, ...]
    remediation: str
    doc_url: str
    kinds: frozenset[str] | None = None
    check: ObjectCheck | None = None
    pod_check: PodCheck | None = None
    stack_check: StackCheck | None = None
    inputs: frozenset[str] | None = None
    """Kinds a stack rule reads (the engine keeps only those for it)."""

    def __post_init__(self) -> None:
        checks = [c for c in (self.check, self.pod_check, self.stack_check) if c is not None]
        if len(checks) > 1:  # none: a rule whose findings the gate makes itself (gate.exemption)
            raise ValueError(f"rule {self.id} takes one of check, pod_check, stack_check")
        if self.stack_check is not None and not self.inputs:
            raise ValueError(f"stack rule {self.id} must declare the kinds it reads (inputs)")

    def controls_for(self, violation: Violation) -> list[str]:
        """``pss:<level>/<control>`` per level broken, then the rule's other mappings."""
        kind, _, control = self.concern.partition(":")
        head = [f"pss:{level}/{control}" for level in violation.levels] if kind == "pss" else [self.concern]
        return [*head, *self.controls]


@dataclass(frozen=True, slots=True)
class Exemption:
    rule: str
    kind: str | None
    namespace: str | None
    name: str | None
    justification: str
    approver: str
    expires: str
    line: int


@dataclass(slots=True)
class Finding:
    rule: Rule
    source: SourceObject
    violation: Violation
    enforcement: Enforcement
    exemption: Exemption | None = None
    controls: list[str] = field(default_factory=list)

    @property
    def exempted(self) -> bool:
        return self.exemption is not None

    @property
    def blocking(self) -> bool:
        return self.enforcement is Enforcement.MANDATORY and not self.exempted


@dataclass(frozen=True, slots=True)
class InputProblem:
    """A file or document the gate could not use (exit code 2)."""

    file: str
    line: int
    message: str
