"""The CI drill: an insecure manifest committed, the policy gate refusing it, the fix passing it.

PolicyGateFailed has no alert: its signal is the gate step's exit code and findings, which the drill
checks directly (the real `slipway gate`, as CI runs it).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from runbooks.drills.drill import Drill, DrillContext

SOUND = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scorer
  namespace: models
  labels: {app.kubernetes.io/name: scorer}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: scorer}
  template:
    metadata:
      labels: {app.kubernetes.io/name: scorer}
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: model
          image: registry.example.org/scorer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
          env:
            - name: DB_PASSWORD
              valueFrom: {secretKeyRef: {name: scorer-db, key: password}}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: "1", memory: 512Mi}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
"""


def _insecure() -> dict[str, Any]:
    """The sound Deployment with the classic shortcuts: root, privileged, an inline secret, the host's
    container socket."""
    manifest: dict[str, Any] = yaml.safe_load(SOUND)
    pod = manifest["spec"]["template"]["spec"]
    pod["securityContext"] = {"runAsUser": 0}
    container = pod["containers"][0]
    container["securityContext"] = {"privileged": True}
    container["env"] = [{"name": "DB_PASSWORD", "value": "correct-horse-battery-staple"}]
    container["volumeMounts"] = [{"name": "docker", "mountPath": "/var/run/docker.sock"}]
    pod["volumes"] = [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]
    return manifest


def _gate(ctx: DrillContext) -> tuple[int, dict[str, Any]]:
    result = ctx.slipway("gate", str(ctx.workdir / "deployment.yaml"), "--format", "json", allowed=(0, 1))
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def _nothing(ctx: DrillContext) -> None:
    return None


def _commit_insecure(ctx: DrillContext) -> None:
    (ctx.workdir / "deployment.yaml").write_text(yaml.safe_dump(_insecure(), sort_keys=False))
    code, report = _gate(ctx)
    mandatory = sorted({f["rule"] for f in report["findings"] if f["enforcement"] == "mandatory"})
    if code != 1 or not mandatory:
        raise AssertionError(f"the gate should refuse the insecure manifest: exit {code}, {report['summary']}")
    ctx.notification = {"labels": {"signal": "slipway gate", "exit_code": str(code)},
                        "annotations": {"summary": f"{len(mandatory)} mandatory rules broken",
                                        "rules": ", ".join(mandatory)}}  # fmt: skip


def _fix_as_remediated(ctx: DrillContext) -> None:
    (ctx.workdir / "deployment.yaml").write_text(SOUND)
    code, report = _gate(ctx)
    if code != 0:
        raise AssertionError(f"the fixed manifest should pass the gate: exit {code}, {report['summary']}")


DRILLS = (
    Drill("commit-insecure-manifest", "PolicyGateFailed",
          "a Deployment running as root, privileged, with an inline secret and the host's container socket", 0,
          "each finding fixed as its remediation says; the gate exits 0", prepare=_nothing,
          inject=_commit_insecure, mitigate=_fix_as_remediated, signal=True),
)  # fmt: skip
