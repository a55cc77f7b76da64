"""The restricted pod and container settings every slipway workload shares.

They satisfy Pod Security "restricted" and the kit's best practices: non-root uid ≥ 10000, no
privilege escalation, every capability dropped, read-only root filesystem with a size-limited
emptyDir for /tmp, RuntimeDefault seccomp, no service-account token.
"""

from __future__ import annotations

import pulumi_kubernetes.core.v1 as core

RUN_AS_USER = 10001
TMP_VOLUME = "tmp"
COMPLIANCE_ENV: list[core.EnvVarArgsDict] = [
    {"name": "BENTOML_DO_NOT_TRACK", "value": "true"},
    {"name": "TMPDIR", "value": "/tmp"},
]


def standard_labels(name: str, component: str, *, owner: str, classification: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "slipway",
        "owner": owner,
        "data-classification": classification,
    }


def pod_security_context() -> core.PodSecurityContextArgsDict:
    return {
        "run_as_non_root": True,
        "run_as_user": RUN_AS_USER,
        "run_as_group": RUN_AS_USER,
        "fs_group": RUN_AS_USER,
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> core.SecurityContextArgsDict:
    return {
        "allow_privilege_escalation": False,
        "read_only_root_filesystem": True,
        "run_as_non_root": True,
        "run_as_user": RUN_AS_USER,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def tmp_volume() -> core.VolumeArgsDict:
    return {"name": TMP_VOLUME, "empty_dir": {"size_limit": "256Mi"}}


def tmp_mount() -> core.VolumeMountArgsDict:
    return {"name": TMP_VOLUME, "mount_path": "/tmp"}
