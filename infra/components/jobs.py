"""Jobs: the scheduled work around the model, hardened exactly like the service.

- ``pipeline``: ``slipway pipeline run`` on a schedule (resilient ETL into the shared volume);
- ``drift-report``: ``slipway drift report`` over the latest pipeline output;
- ``retrain``: ``slipway train``, created suspended so that retraining is a deliberate act
  (``kubectl patch cronjob retrain -p '{"spec":{"suspend":false}}'`` or a one-off Job from it);
- ``model-loop``: ``slipway loop reconcile`` (when ``loopPrometheus`` is set), with its own access
  token from ``loopTokenSecret``, egress to that Prometheus, the issuer and the review store.

All three share a PersistentVolumeClaim mounted as ``$SLIPWAY_HOME`` and egress only to the data
sources declared in ``jobsAllowEgress``.

Usage::

    Jobs("jobs", JobsArgs.from_settings(settings, managed_namespaces), opts=...)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes.batch.v1 as batch
import pulumi_kubernetes.core.v1 as core
import pulumi_kubernetes.meta.v1 as meta

from infra.components import hardening
from infra.components.isolation import IsolationArgs, WorkloadIsolation
from infra.components.namespace import WORKLOAD_SERVICE_ACCOUNT
from infra.components.runtime_volumes import (
    KEYS_PATH,
    STATE_PATH,
    STATE_VOLUME,
    env,
    keys_mount,
    keys_volume,
    state_volume,
)
from infra.config import AllowRule, PortSpec, StackSettings

CONFIG_MAP = "pipeline-config"
CONFIG_PATH = "/etc/slipway/pipeline"
RUN_AFTER_ANNOTATION = "slipway.dev/run-after"
JOB_BENTOML_HOME = f"{STATE_PATH}/bentoml"  # retrained models persist on the state volume


@dataclass(frozen=True)
class JobSpec:
    name: str
    schedule: str
    command: tuple[str, ...]
    suspend: bool = False
    signs: bool = False  # mounts the signing key (retraining and the loop only)
    run_after: str | None = None  # what must have run first (read by `slipway rehearse`)
    env: tuple[tuple[str, str], ...] = ()
    token_secret: str | None = None  # a Secret whose `token` becomes $SLIPWAY_TOKEN (the loop's identity)
    review_store_secret: str | None = None  # a Secret whose `dsn` becomes $SLIPWAY_REVIEW_QUEUE


@dataclass(frozen=True)
class JobsArgs:
    namespace: str
    image: str
    owner: str
    data_classification: str
    storage_size: str
    storage_class: str | None
    pipeline_config: str
    jobs: Sequence[JobSpec]
    allow_egress: Sequence[AllowRule]
    managed_namespaces: frozenset[str]
    keys_secret: str = "slipway-keys"
    signing_key_secret: str = "slipway-signing-key"
    model_digest: str | None = None
    pushgateway: str | None = None

    @classmethod
    def from_settings(cls, s: StackSettings, managed_namespaces: frozenset[str]) -> JobsArgs:
        return cls(
            namespace=s.namespace,
            image=s.model_image_ref,
            owner=s.owner,
            data_classification=s.data_classification,
            storage_size=s.storage_size,
            storage_class=s.storage_class,
            pipeline_config=s.pipeline_config,
            jobs=(
                JobSpec(
                    "pipeline",
                    s.pipeline_schedule,
                    ("slipway", "pipeline", "run", "--config", f"{CONFIG_PATH}/pipeline.yaml"),
                ),
                JobSpec(
                    "drift-report",
                    s.drift_schedule,
                    ("slipway", "drift", "report", f"{STATE_PATH}/pipeline/data/records.parquet"),
                    run_after="pipeline",  # it reads the pipeline's output
                ),
                JobSpec("retrain", s.retrain_schedule, ("slipway", "train"), suspend=True, signs=True),
                *_loop_job(s),
            ),
            allow_egress=(*s.jobs_allow_egress, *_pushgateway_egress(s), *_prometheus_egress(s)),
            managed_namespaces=managed_namespaces,
            keys_secret=s.keys_secret,
            signing_key_secret=s.signing_key_secret,
            model_digest=s.model_artifact_digest,
            pushgateway=s.pushgateway,
        )


def _loop_job(s: StackSettings) -> tuple[JobSpec, ...]:
    """``slipway loop reconcile`` on a schedule, when the stack names the Prometheus it reads."""
    if s.loop_prometheus is None:
        return ()
    from infra.components.model_service import auth_env

    return (
        JobSpec(
            "model-loop",
            s.loop_schedule,
            ("slipway", "loop", "reconcile"),
            signs=True,  # it trains candidates and signs promotion records
            env=(("SLIPWAY_LOOP_PROMETHEUS_URL", s.loop_prometheus), *auth_env(s)),
            token_secret=s.loop_token_secret,
            review_store_secret=s.review_store_secret,
        ),
    )


def _prometheus_egress(s: StackSettings) -> tuple[AllowRule, ...]:
    if s.loop_prometheus is None:
        return ()
    port = int(s.loop_prometheus.rsplit(":", 1)[1])
    return (AllowRule(name="prometheus", namespace=s.monitoring_namespace, ports=(PortSpec(port=port),)),)


def _pushgateway_egress(s: StackSettings) -> tuple[AllowRule, ...]:
    """Egress to the Pushgateway's port in the monitoring namespace, when one is configured."""
    if s.pushgateway is None:
        return ()
    port = int(s.pushgateway.rsplit(":", 1)[1])
    return (AllowRule(name="pushgateway", namespace=s.monitoring_namespace, ports=(PortSpec(port=port),)),)


class Jobs(pulumi.ComponentResource):
    def __init__(self, resource_name: str, args: JobsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slipway:jobs:Jobs", resource_name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        claim_spec: core.PersistentVolumeClaimSpecArgsDict = {
            "access_modes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": args.storage_size}},
        }
        if args.storage_class:
            claim_spec["storage_class_name"] = args.storage_class
        core.PersistentVolumeClaim(
            f"{ns}-state",
            metadata={"name": STATE_VOLUME, "namespace": ns, "labels": self._labels(args, "state")},
            spec=claim_spec,
            opts=child,
        )
        core.ConfigMap(
            f"{ns}-pipeline-config",
            metadata={"name": CONFIG_MAP, "namespace": ns, "labels": self._labels(args, "config")},
            data={"pipeline.yaml": args.pipeline_config},
            opts=child,
        )
        selector = {"app.kubernetes.io/part-of": "slipway", "app.kubernetes.io/component": "job"}
        for job in args.jobs:
            labels = {**self._labels(args, "job"), "app.kubernetes.io/name": job.name}
            metadata: meta.ObjectMetaArgsDict = {"name": job.name, "namespace": ns, "labels": labels}
            if job.run_after:
                metadata["annotations"] = {RUN_AFTER_ANNOTATION: job.run_after}
            batch.CronJob(
                f"{ns}-{job.name}",
                metadata=metadata,
                spec={
                    "schedule": job.schedule,
                    "suspend": job.suspend,
                    "concurrency_policy": "Forbid",
                    "successful_jobs_history_limit": 3,
                    "failed_jobs_history_limit": 3,
                    "job_template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "backoff_limit": 2,
                            "active_deadline_seconds": 3600,
                            "ttl_seconds_after_finished": 86400,
                            "template": {
                                "metadata": {"labels": labels},
                                "spec": _job_pod(args, job),
                            },
                        },
                    },
                },
                opts=child,
            )
        WorkloadIsolation(
            f"{ns}-jobs-isolation",
            IsolationArgs(
                namespace=ns,
                workload="jobs",
                selector=selector,
                egress=tuple(args.allow_egress),
                managed_namespaces=args.managed_namespaces,
            ),
            opts=child,
        )
        self.register_outputs({})

    @staticmethod
    def _labels(args: JobsArgs, component: str) -> dict[str, str]:
        return hardening.standard_labels(
            "slipway-jobs", component, owner=args.owner, classification=args.data_classification
        )


def _job_env(args: JobsArgs, job: JobSpec) -> list[core.EnvVarArgsDict]:
    variables: list[core.EnvVarArgsDict] = [
        *hardening.COMPLIANCE_ENV,
        env("SLIPWAY_HOME", STATE_PATH),
        env("SLIPWAY_KEYS", KEYS_PATH),
        env("BENTOML_HOME", JOB_BENTOML_HOME),
        *(env(name, value) for name, value in job.env),
    ]
    for name, secret, key in (("SLIPWAY_TOKEN", job.token_secret, "token"),
                              ("SLIPWAY_REVIEW_QUEUE", job.review_store_secret, "dsn")):  # fmt: skip
        if secret is not None:
            variables.append({"name": name, "value_from": {"secret_key_ref": {"name": secret, "key": key}}})
    if args.model_digest:  # the drift job compares against the model being served
        variables.append(env("SLIPWAY_MODEL_DIGEST", args.model_digest))
    if args.pushgateway:
        variables.append(env("SLIPWAY_PUSHGATEWAY", args.pushgateway))
    return variables


def _job_pod(args: JobsArgs, job: JobSpec) -> core.PodSpecArgsDict:
    return {
        "restart_policy": "Never",
        "service_account_name": WORKLOAD_SERVICE_ACCOUNT,
        "automount_service_account_token": False,
        "enable_service_links": False,
        "security_context": hardening.pod_security_context(),
        "containers": [
            {
                "name": job.name,
                "image": args.image,
                "image_pull_policy": "IfNotPresent",
                "command": list(job.command),
                "env": _job_env(args, job),
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
                "security_context": hardening.container_security_context(),
                "volume_mounts": [
                    hardening.tmp_mount(),
                    {"name": STATE_VOLUME, "mount_path": STATE_PATH},
                    {"name": CONFIG_MAP, "mount_path": CONFIG_PATH, "read_only": True},
                    keys_mount(),
                ],
            }
        ],
        "volumes": [
            hardening.tmp_volume(),
            state_volume(),
            {"name": CONFIG_MAP, "config_map": {"name": CONFIG_MAP}},
            keys_volume(
                secret=args.keys_secret,
                secret_items=("review.key", "data.key"),
                signing_secret=args.signing_key_secret if job.signs else None,
            ),
        ],
    }
