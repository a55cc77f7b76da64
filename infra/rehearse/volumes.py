"""Pod volumes made real for podman, as the kubelet makes them.

- emptyDir: a tmpfs with the declared ``sizeLimit``, mode 0777, nothing copied up from the image;
- configMap, secret, projected: files written into a scratch directory with the declared modes
  and the pod's ``fsGroup``, bind-mounted read-only;
- persistentVolumeClaim: a podman volume per claim, shared by every workload of the rehearsal that
  mounts it; its root is group ``fsGroup``, setgid and group-writable (what the kubelet does).

Anything else is refused with the reason: a rehearsal that silently skipped a volume would pass
where the pod fails.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from images.engine import Engine
from infra.rehearse.quantity import quantity
from infra.rehearse.standins import StandIns

Obj = dict[str, Any]
DEFAULT_MODE = 0o644


class VolumeProblem(Exception):
    """A volume the pod declares cannot be made: the pod would not start (the message says why)."""


@dataclass
class VolumeContext:
    engine: Engine
    scratch: Path
    run_id: str
    config_maps: dict[str, dict[str, str]]
    claims: set[str]
    standins: StandIns
    fs_group: int | None
    created_volumes: list[str] = field(default_factory=list)


def _write(path: Path, data: bytes, mode: int, fs_group: int | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    if fs_group is not None and os.geteuid() == 0:
        os.chown(path, 0, fs_group)


def _config_map_files(ctx: VolumeContext, source: Obj) -> list[tuple[str, bytes, int | None]]:
    name = str(source.get("name"))
    if name not in ctx.config_maps:
        if source.get("optional"):
            return []
        raise VolumeProblem(f"ConfigMap {name!r} is not among the rendered objects (the pod would not start)")
    data = ctx.config_maps[name]
    items = source.get("items")
    if not items:
        return [(key, value.encode(), None) for key, value in data.items()]
    files = []
    for item in items:
        key = str(item["key"])
        if key not in data:
            raise VolumeProblem(f"ConfigMap {name!r} has no key {key!r}")
        files.append((str(item.get("path", key)), data[key].encode(), item.get("mode")))
    return files


def _secret_files(ctx: VolumeContext, name: str, source: Obj) -> list[tuple[str, bytes, int | None]]:
    items = source.get("items")
    if not items:
        raise VolumeProblem(
            f"Secret {name!r} is mounted without items: the rehearsal cannot know its keys (list them as items)"
        )
    return [(str(i.get("path", i["key"])), ctx.standins.value(name, str(i["key"])), i.get("mode")) for i in items]


def _files(ctx: VolumeContext, volume: Obj, target: Path) -> None:
    if "configMap" in volume:
        mode = int(volume["configMap"].get("defaultMode", DEFAULT_MODE))
        entries = _config_map_files(ctx, volume["configMap"])
    elif "secret" in volume:
        mode = int(volume["secret"].get("defaultMode", DEFAULT_MODE))
        entries = _secret_files(ctx, str(volume["secret"].get("secretName")), volume["secret"])
    else:
        projected = volume["projected"]
        mode = int(projected.get("defaultMode", DEFAULT_MODE))
        entries = []
        for source in projected.get("sources") or []:
            if "configMap" in source:
                entries += _config_map_files(ctx, source["configMap"])
            elif "secret" in source:
                entries += _secret_files(ctx, str(source["secret"].get("name")), source["secret"])
            else:
                raise VolumeProblem(f"projected source {sorted(source)} is not rehearsed")
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(0o755)
    for relative, data, item_mode in entries:
        _write(target / relative, data, int(item_mode) if item_mode is not None else mode, ctx.fs_group)


def _mountpoint(ctx: VolumeContext, volume: str) -> Path:
    return Path(ctx.engine.run(["volume", "inspect", "--format", "{{.Mountpoint}}", volume]).stdout.strip())


def _claim_volume(ctx: VolumeContext, claim: str) -> str:
    if claim not in ctx.claims:
        raise VolumeProblem(
            f"PersistentVolumeClaim {claim!r} is not among the rendered objects (the pod stays Pending)"
        )
    name = f"slipway-rehearsal-{ctx.run_id}-{claim}"
    if name not in ctx.created_volumes:
        ctx.engine.run(["volume", "create", "--label", f"dev.slipway.rehearsal={ctx.run_id}", name])
        ctx.created_volumes.append(name)
        if ctx.fs_group is not None and os.geteuid() == 0:
            mountpoint = _mountpoint(ctx, name)
            os.chown(mountpoint, 0, ctx.fs_group)
            mountpoint.chmod(0o2775)
    return name


def volume_args(ctx: VolumeContext, pod: Obj, container: Obj, prefix: str) -> list[str]:
    """podman ``--mount`` arguments for the container's volumeMounts."""
    volumes = {str(v.get("name")): v for v in pod.get("volumes") or []}
    args: list[str] = []
    for mount in container.get("volumeMounts") or []:
        name, path = str(mount.get("name")), str(mount.get("mountPath"))
        if mount.get("subPath") or mount.get("subPathExpr"):
            raise VolumeProblem(f"volumeMount {name!r} uses subPath, which the rehearsal does not reproduce")
        volume = volumes.get(name)
        if volume is None:
            raise VolumeProblem(f"volumeMount {name!r} at {path} names no volume of the pod")
        read_only = bool(mount.get("readOnly"))
        if "emptyDir" in volume:
            options = [f"type=tmpfs,destination={path}", "tmpfs-mode=0777", "notmpcopyup"]
            limit = (volume.get("emptyDir") or {}).get("sizeLimit")
            if limit:
                options.append(f"tmpfs-size={int(quantity(limit))}")
            if read_only:
                options.append("ro=true")
            args += ["--mount", ",".join(options)]
        elif any(k in volume for k in ("configMap", "secret", "projected")):
            target = ctx.scratch / prefix / name
            if not target.exists():
                _files(ctx, volume, target)
            args += ["--mount", f"type=bind,source={target},destination={path},ro=true"]
        elif "persistentVolumeClaim" in volume:
            claim = str(volume["persistentVolumeClaim"].get("claimName"))
            source = _claim_volume(ctx, claim)
            args += ["--mount", f"type=volume,source={source},destination={path}" + (",ro=true" if read_only else "")]
        else:
            kinds = sorted(k for k in volume if k != "name")
            raise VolumeProblem(f"volume {name!r} of type {kinds} is not rehearsed")
    return args


def seed_claim(ctx: VolumeContext, claim: str, relative: str, source: Path) -> None:
    """Copy files into a claim before the workloads run (the sample data the pipeline job reads)."""
    name = _claim_volume(ctx, claim)
    target = _mountpoint(ctx, name) / relative
    shutil.copytree(source, target, dirs_exist_ok=True)
    if ctx.fs_group is not None and os.geteuid() == 0:
        for path in (target, *target.rglob("*")):
            os.chown(path, 0, ctx.fs_group)
            path.chmod(0o2775 if path.is_dir() else 0o664)
