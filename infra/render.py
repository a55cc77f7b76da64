"""Render a stack offline: run the Pulumi program under Pulumi's mocks and keep what it would create.

No Pulumi CLI, no cluster, no credentials. The stack's configuration is read from
``Pulumi.<stack>.yaml`` (with the defaults declared in ``Pulumi.yaml``) and handed to the program
through the Pulumi runtime's config, exactly where ``pulumi up`` puts it. Every Kubernetes object
the program registers is captured from the mock monitor (its inputs are the full object), restored
(protobuf turns integers into floats), validated against the Kubernetes schema of the stack's
version and written as one YAML file per object, deterministically.

Usage::

    objects = render_stack(Path("."), "dev")             # in memory
    write_manifests(objects, Path("build/manifests"))      # one file per object
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.config import PROJECT, StackSettings, load_settings
from infra.schema import SchemaCatalog
from slipway.errors import SlipwayError, UsageError
from slipway.objects import restore_integers
from slipway.yamlfiles import dump_yaml

RENDER_MARKER = ".slipway-render"
TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata")


class RenderError(SlipwayError):
    """The stack cannot be rendered (invalid settings or objects that violate the schema)."""


@dataclass(frozen=True)
class RenderedObject:
    manifest: dict[str, Any]
    resource_name: str

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        value = self.manifest["metadata"].get("namespace")
        return str(value) if value is not None else None

    @property
    def relative_path(self) -> Path:
        folder = self.namespace or "_cluster"
        return Path(folder) / f"{self.kind.lower()}-{self.name}.yaml"


def find_project_dir(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    raise UsageError(f"no Pulumi.yaml in {start} or its parents: run from the slipway project or pass --project-dir")


def stack_config(project_dir: Path, stack: str) -> dict[str, str]:
    """The config the Pulumi engine would pass for ``stack``: project defaults, then stack values."""
    project = _read_yaml(project_dir / "Pulumi.yaml")
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        stacks = sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in project_dir.glob("Pulumi.*.yaml"))
        raise UsageError(f"stack {stack!r} has no {stack_file.name} in {project_dir} (stacks: {', '.join(stacks)})")
    stack_doc = _read_yaml(stack_file)

    config: dict[str, str] = {}
    for key, declaration in (project.get("config") or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(declaration, Mapping):
            if "default" in declaration:
                config[full_key] = _encode(declaration["default"])
        else:
            config[full_key] = _encode(declaration)
    for key, value in (stack_doc.get("config") or {}).items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            env = "SLIPWAY_" + key.partition(":")[2].upper()
            raise RenderError(f"{key} is an encrypted secret that render cannot decrypt; set {env} instead")
        config[str(key)] = _encode(value)
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UsageError(f"{path}: expected a mapping at the top level")
    return loaded


def _encode(value: Any) -> str:
    """Pulumi passes config values as strings: booleans lowercase, structures as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def render_stack(project_dir: Path, stack: str) -> list[RenderedObject]:
    """Run the program for ``stack`` under mocks; return its objects, schema-validated, sorted."""
    config = stack_config(project_dir, stack)
    settings, captured = run_under_mocks(config, stack)
    objects = sorted(
        (RenderedObject(restore_integers(inputs), name) for name, inputs in captured),
        key=lambda o: (o.namespace or "", o.kind, o.name),
    )
    _check_unique(objects)
    _check_schema(objects, SchemaCatalog(settings.kubernetes_version))
    return objects


def run_under_mocks(config: Mapping[str, str], stack: str) -> tuple[StackSettings, list[tuple[str, dict[str, Any]]]]:
    """Execute ``infra.program.build`` with Pulumi mocks; return the settings and captured inputs."""
    import pulumi
    from pulumi.runtime import mocks as pulumi_mocks

    from infra.program import build

    captured: list[tuple[str, dict[str, Any]]] = []

    class CaptureMocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
            if args.typ.startswith("kubernetes:") and not args.typ.startswith("pulumi:providers"):
                captured.append((args.name, dict(args.inputs)))
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    try:  # Pulumi makes its futures on the thread's current loop; asyncio.run() elsewhere unsets it
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    pulumi.runtime.set_mocks(CaptureMocks(), project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(dict(config))
    settings = load_settings()  # before any resource: a bad key stops here

    @pulumi_mocks.test  # type: ignore[untyped-decorator]  # drains every outstanding registration
    def _program() -> None:
        build(settings)

    try:
        _program()
    except SlipwayError:
        raise
    except Exception as exc:
        raise RenderError(f"the Pulumi program failed under mocks: {exc}") from exc
    return settings, captured


def _check_unique(objects: Iterable[RenderedObject]) -> None:
    seen: dict[Path, RenderedObject] = {}
    for obj in objects:
        if obj.relative_path in seen:
            raise RenderError(
                f"two objects render to {obj.relative_path}: {seen[obj.relative_path].resource_name} "
                f"and {obj.resource_name}"
            )
        seen[obj.relative_path] = obj


def _check_schema(objects: Iterable[RenderedObject], catalog: SchemaCatalog) -> None:
    problems = [
        f"{obj.manifest['apiVersion']} {obj.kind} {obj.namespace or '-'}/{obj.name}: {problem}"
        for obj in objects
        for problem in catalog.violations(obj.manifest)
    ]
    if problems:
        raise RenderError(
            f"{len(problems)} schema violation(s) against Kubernetes {catalog.version}:\n  " + "\n  ".join(problems)
        )


def canonical(obj: dict[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata first; every other mapping sorted by key."""
    ordered = {key: _sorted(obj[key]) for key in TOP_LEVEL_ORDER if key in obj}
    ordered.update({key: _sorted(obj[key]) for key in sorted(obj) if key not in TOP_LEVEL_ORDER})
    return ordered


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def to_yaml(obj: dict[str, Any]) -> str:
    return dump_yaml(canonical(obj))


def write_manifests(objects: Iterable[RenderedObject], out: Path) -> list[Path]:
    """Replace ``out`` with one file per object, atomically (a failed write leaves ``out`` as it was).

    Returns the written paths relative to ``out``.
    """
    out = out.resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / RENDER_MARKER).is_file())):
        raise UsageError(
            f"refusing to replace {out}: it exists and is not a slipway render output; choose a new or empty directory"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    written: list[Path] = []
    try:
        for obj in objects:
            target = staging / obj.relative_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(to_yaml(obj.manifest), encoding="utf-8")
            written.append(obj.relative_path)
        (staging / RENDER_MARKER).write_text(
            "Written by `slipway render`; the whole directory is replaced on the next render.\n",
            encoding="utf-8",
        )
        staging.chmod(0o755)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            out.rename(retired / out.name)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written
