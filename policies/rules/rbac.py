"""RBAC: no wildcards, no cluster-admin bindings, nothing granted to anonymous or all users."""

from __future__ import annotations

from collections.abc import Iterator

from policies.config import GateConfig
from policies.k8s import mapping, sequence
from policies.model import Enforcement, Obj, Rule, Severity, Violation

DOCS = "policies/RULES.md"
BROAD_SUBJECTS = frozenset({"system:anonymous", "system:unauthenticated", "system:authenticated"})


def _wildcards(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    for index, rule in enumerate(sequence(obj.get("rules"))):
        rule = mapping(rule)
        for field_name in ("verbs", "resources", "apiGroups", "nonResourceURLs"):
            if "*" in [str(v) for v in sequence(rule.get(field_name))]:
                yield Violation(f"rules[{index}].{field_name}", f"rule {index} grants '*' {field_name}")


def _cluster_admin(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    ref = mapping(obj.get("roleRef"))
    if ref.get("kind") == "ClusterRole" and ref.get("name") == "cluster-admin":
        yield Violation("roleRef.name", f"{obj.get('kind')} grants cluster-admin")


def _anonymous(obj: Obj, config: GateConfig) -> Iterator[Violation]:
    for index, subject in enumerate(sequence(obj.get("subjects"))):
        name = mapping(subject).get("name")
        if name in BROAD_SUBJECTS:
            yield Violation(f"subjects[{index}].name", f"{obj.get('kind')} binds {name}")


ROLES = frozenset({"Role", "ClusterRole"})
BINDINGS = frozenset({"RoleBinding", "ClusterRoleBinding"})

RULES = (
    Rule(
        id="rbac.wildcard",
        title="Roles grant named verbs on named resources",
        severity=Severity.HIGH,
        enforcement=Enforcement.MANDATORY,
        concern="bp:rbac-wildcard",
        controls=("cis-k8s:5.1.3", "nist-800-53:AC-6"),
        remediation="List the apiGroups, resources and verbs the workload needs instead of '*'.",
        doc_url=f"{DOCS}#rbac-wildcard",
        kinds=ROLES,
        check=_wildcards,
    ),
    Rule(
        id="rbac.cluster-admin",
        title="Nothing is bound to cluster-admin",
        severity=Severity.CRITICAL,
        enforcement=Enforcement.MANDATORY,
        concern="bp:rbac-cluster-admin",
        controls=("cis-k8s:5.1.1", "nist-800-53:AC-6"),
        remediation="Bind a role with the permissions actually needed.",
        doc_url=f"{DOCS}#rbac-cluster-admin",
        kinds=BINDINGS,
        check=_cluster_admin,
    ),
    Rule(
        id="rbac.anonymous",
        title="Nothing is granted to anonymous, unauthenticated or all authenticated users",
        severity=Severity.CRITICAL,
        enforcement=Enforcement.MANDATORY,
        concern="bp:rbac-anonymous",
        controls=("nist-800-53:AC-3", "nist-800-53:AC-14"),
        remediation="Bind named users, groups or service accounts instead of system:anonymous, "
        "system:unauthenticated or system:authenticated.",
        doc_url=f"{DOCS}#rbac-anonymous",
        kinds=BINDINGS,
        check=_anonymous,
    ),
)
