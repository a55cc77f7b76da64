"""What ``slipway render`` wrote, read back: the workloads to rehearse and what they reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from slipway.errors import UsageError

RUN_AFTER = "slipway.dev/run-after"
Obj = dict[str, Any]


@dataclass(frozen=True)
class Workload:
    kind: str  # Deployment | StatefulSet | CronJob | Job
    name: str
    namespace: str
    pod: Obj  # the pod spec
    pod_metadata: Obj
    run_after: tuple[str, ...] = ()
    deadline_seconds: int = 3600  # a Job's activeDeadlineSeconds

    @property
    def runs_to_completion(self) -> bool:
        return self.kind in ("CronJob", "Job")

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass
class Manifests:
    workloads: list[Workload] = field(default_factory=list)
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    claims: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, directory: Path) -> Manifests:
        if not directory.is_dir():
            raise UsageError(f"no rendered manifests at {directory} (run `slipway render`)")
        found = cls()
        for path in sorted(directory.rglob("*.yaml")):
            try:
                documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
            except yaml.YAMLError as exc:
                raise UsageError(f"{path}: not YAML ({exc})") from None
            for obj in documents:
                if isinstance(obj, dict):
                    found._add(obj)
        if not found.workloads:
            raise UsageError(f"{directory} holds no Deployment, StatefulSet, CronJob or Job to rehearse")
        found.workloads = _ordered(found.workloads)
        return found

    def kit_images(self) -> set[str]:
        """The images of the kit's own workloads (pod label ``app.kubernetes.io/part-of: slipway``):
        the server and the jobs all run the model-server image, which ``--image`` replaces."""
        return {
            str(c.get("image"))
            for w in self.workloads
            if (w.pod_metadata.get("labels") or {}).get("app.kubernetes.io/part-of") == "slipway"
            for c in w.pod.get("containers") or []
        }

    def _add(self, obj: Obj) -> None:
        kind, metadata = obj.get("kind"), obj.get("metadata") or {}
        name, namespace = str(metadata.get("name")), str(metadata.get("namespace", "default"))
        spec = obj.get("spec") or {}
        if kind == "ConfigMap":
            self.config_maps[name] = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
        elif kind == "PersistentVolumeClaim":
            self.claims.add(name)
        elif kind in ("Deployment", "StatefulSet", "Job", "CronJob"):
            job = spec["jobTemplate"]["spec"] if kind == "CronJob" else spec
            template = job["template"]
            after = str((metadata.get("annotations") or {}).get(RUN_AFTER, ""))
            self.workloads.append(
                Workload(
                    kind,
                    name,
                    namespace,
                    template.get("spec") or {},
                    template.get("metadata") or {},
                    tuple(a.strip() for a in after.split(",") if a.strip()),
                    int(job.get("activeDeadlineSeconds") or 3600),
                )
            )


def _ordered(workloads: list[Workload]) -> list[Workload]:
    """Long-running workloads first, then jobs so that each runs after those it names in run-after."""
    serving = [w for w in workloads if not w.runs_to_completion]
    jobs = sorted((w for w in workloads if w.runs_to_completion), key=lambda w: w.name)
    ordered: list[Workload] = []
    placed: set[str] = set()
    while jobs:
        ready = [j for j in jobs if all(a in placed or a not in {w.name for w in jobs} for a in j.run_after)]
        if not ready:
            raise UsageError(f"run-after annotations form a cycle among {[j.name for j in jobs]}")
        for job in ready:
            ordered.append(job)
            placed.add(job.name)
            jobs.remove(job)
    return serving + ordered
