"""One ComponentResource per module; each takes typed args and parents every child to itself."""

from infra.components.alert_rules import AlertRules, AlertRulesArgs
from infra.components.isolation import WorkloadIsolation
from infra.components.jobs import Jobs, JobsArgs
from infra.components.keys import ModelKeys, ModelKeysArgs
from infra.components.model_service import ModelService, ModelServiceArgs
from infra.components.namespace import CompliantNamespace, NamespaceArgs

__all__ = [
    "AlertRules",
    "AlertRulesArgs",
    "CompliantNamespace",
    "Jobs",
    "JobsArgs",
    "ModelKeys",
    "ModelKeysArgs",
    "ModelService",
    "ModelServiceArgs",
    "NamespaceArgs",
    "WorkloadIsolation",
]
