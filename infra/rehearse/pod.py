"""One container of a pod spec → the ``podman run`` arguments that reproduce it, as the kubelet would.

Security context (pod level, overridden per container), user and groups, read-only root (with
``--read-only-tmpfs=false``: podman otherwise adds tmpfs mounts Kubernetes does not), capabilities,
no-new-privileges, seccomp, env (values, ConfigMap and Secret keys, the downward API), command and
args (``command`` replaces the image's ENTRYPOINT, ``args`` its CMD), working directory, CPU and
memory limits, and the container ports published on 127.0.0.1 only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from infra.rehearse.quantity import quantity
from infra.rehearse.standins import StandIns

Obj = dict[str, Any]


class PodProblem(Exception):
    """The kubelet would refuse to create the container (the message says why)."""


@dataclass(frozen=True)
class SecurityContext:
    run_as_user: int | None
    run_as_group: int | None
    run_as_non_root: bool
    fs_group: int | None
    supplemental_groups: tuple[int, ...]
    read_only_root: bool
    privileged: bool
    allow_privilege_escalation: bool | None
    drop: tuple[str, ...]
    add: tuple[str, ...]
    seccomp: str | None

    @classmethod
    def of(cls, pod: Obj, container: Obj) -> SecurityContext:
        pod_sc, sc = pod.get("securityContext") or {}, container.get("securityContext") or {}

        def pick(key: str) -> Any:
            return sc.get(key, pod_sc.get(key))

        capabilities = sc.get("capabilities") or {}
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        return cls(
            run_as_user=pick("runAsUser"),
            run_as_group=pick("runAsGroup"),
            run_as_non_root=bool(pick("runAsNonRoot")),
            fs_group=pod_sc.get("fsGroup"),
            supplemental_groups=tuple(pod_sc.get("supplementalGroups") or ()),
            read_only_root=bool(sc.get("readOnlyRootFilesystem")),
            privileged=bool(sc.get("privileged")),
            allow_privilege_escalation=sc.get("allowPrivilegeEscalation"),
            drop=tuple(str(c) for c in capabilities.get("drop") or ()),
            add=tuple(str(c) for c in capabilities.get("add") or ()),
            seccomp=seccomp,
        )

    def args(self, image_user: str) -> list[str]:
        args: list[str] = []
        user = self.run_as_user
        if user is None and self.run_as_non_root:
            # the kubelet checks the image's USER: it must be numeric and not 0
            name = image_user.split(":", 1)[0]
            if not name.isdigit():
                raise PodProblem(
                    f"runAsNonRoot without runAsUser and the image's USER {image_user!r} is not numeric: "
                    "the kubelet cannot verify it is non-root (CreateContainerConfigError)"
                )
            user = int(name)
        if self.run_as_non_root and user == 0:
            raise PodProblem("runAsNonRoot is set but the container would run as uid 0 (CreateContainerConfigError)")
        if user is not None:
            group = self.run_as_group if self.run_as_group is not None else 0
            args += ["--user", f"{user}:{group}"]
        for gid in (*((self.fs_group,) if self.fs_group is not None else ()), *self.supplemental_groups):
            args += ["--group-add", str(gid)]
        if self.read_only_root:
            args += ["--read-only", "--read-only-tmpfs=false"]
        if self.privileged:
            args.append("--privileged")
        if self.allow_privilege_escalation is False:
            args += ["--security-opt", "no-new-privileges"]
        args += [f"--cap-drop={c.upper()}" for c in self.drop]
        args += [f"--cap-add={c.upper()}" for c in self.add]
        if self.seccomp == "Unconfined":
            args += ["--security-opt", "seccomp=unconfined"]
        elif self.seccomp == "Localhost":
            raise PodProblem("a Localhost seccomp profile lives on the node; the rehearsal cannot load it")
        return args  # RuntimeDefault: podman's default profile, like containerd's and CRI-O's


def _env_value(entry: Obj, config_maps: dict[str, dict[str, str]], standins: StandIns, pod_name: str,
               namespace: str) -> str | None:  # fmt: skip
    if "value" in entry:
        return str(entry["value"])
    source = entry.get("valueFrom") or {}
    if "configMapKeyRef" in source:
        ref = source["configMapKeyRef"]
        data = config_maps.get(str(ref.get("name")))
        if data is None or str(ref.get("key")) not in data:
            if ref.get("optional"):
                return None
            raise PodProblem(f"env {entry['name']}: ConfigMap {ref.get('name')!r} key {ref.get('key')!r} not found")
        return data[str(ref["key"])]
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        return standins.value(str(ref.get("name")), str(ref.get("key"))).decode()
    if "fieldRef" in source:
        field = str(source["fieldRef"].get("fieldPath"))
        known = {"metadata.name": pod_name, "metadata.namespace": namespace, "status.podIP": "127.0.0.1",
                 "spec.nodeName": "rehearsal", "spec.serviceAccountName": "rehearsal"}  # fmt: skip
        if field not in known:
            raise PodProblem(f"env {entry['name']}: fieldRef {field} is not rehearsed")
        return known[field]
    raise PodProblem(f"env {entry.get('name')}: valueFrom {sorted(source)} is not rehearsed")


def env_args(container: Obj, config_maps: dict[str, dict[str, str]], standins: StandIns, pod_name: str,
             namespace: str) -> list[str]:  # fmt: skip
    args: list[str] = []
    for source in container.get("envFrom") or []:
        prefix = str(source.get("prefix", ""))
        if "configMapRef" in source:
            for key, value in (config_maps.get(str(source["configMapRef"].get("name"))) or {}).items():
                args += ["--env", f"{prefix}{key}={value}"]
        else:
            raise PodProblem("envFrom a Secret: the rehearsal cannot know its keys (use env with secretKeyRef)")
    for entry in container.get("env") or []:
        resolved = _env_value(entry, config_maps, standins, pod_name, namespace)
        if resolved is not None:
            args += ["--env", f"{entry['name']}={resolved}"]
    return args


def resource_args(container: Obj) -> list[str]:
    limits = (container.get("resources") or {}).get("limits") or {}
    args = []
    if "memory" in limits:
        args += ["--memory", str(int(quantity(limits["memory"])))]
    if "cpu" in limits:
        args += ["--cpus", str(quantity(limits["cpu"]))]
    return args


def command_args(container: Obj) -> tuple[list[str], list[str]]:
    """(options before the image, words after it): command → --entrypoint, args → the image's CMD."""
    before: list[str] = []
    after: list[str] = []
    if container.get("command"):
        before += ["--entrypoint", json.dumps([str(w) for w in container["command"]])]
    if container.get("args"):
        after += [str(w) for w in container["args"]]
    if container.get("workingDir"):
        before += ["--workdir", str(container["workingDir"])]
    return before, after


def port_of(container: Obj, port: Any) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise PodProblem(f"port {port!r} is not a port of container {container.get('name')!r}")
