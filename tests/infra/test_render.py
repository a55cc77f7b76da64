"""slipway render: schema-valid, deterministic, one file per object, atomic, integers as integers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.render import (
    RENDER_MARKER,
    RenderedObject,
    RenderError,
    _check_schema,
    render_stack,
    write_manifests,
)
from infra.schema import SchemaCatalog, SchemaUnavailable
from slipway.errors import UsageError
from tests.conftest import PROJECT_DIR


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_is_valid_against_the_kubernetes_schema(stack: str) -> None:
    objects = render_stack(PROJECT_DIR, stack)  # raises RenderError on any violation
    catalog = SchemaCatalog("1.33")
    assert objects
    for obj in objects:
        assert catalog.violations(obj.manifest) == []


def test_render_is_byte_identical_for_identical_input(tmp_path: Path) -> None:
    write_manifests(render_stack(PROJECT_DIR, "prod"), tmp_path / "a")
    write_manifests(render_stack(PROJECT_DIR, "prod"), tmp_path / "b")
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first == second
    assert len(first) > 30


def test_one_file_per_object_with_explicit_names(prod_objects: list[RenderedObject], tmp_path: Path) -> None:
    paths = write_manifests(prod_objects, tmp_path / "out")
    assert len(paths) == len(set(paths)) == len(prod_objects)
    for obj, path in zip(prod_objects, paths, strict=True):
        loaded = yaml.safe_load((tmp_path / "out" / path).read_text())
        assert loaded == obj.manifest
        assert path == Path(obj.namespace or "_cluster") / f"{obj.kind.lower()}-{obj.name}.yaml"
        assert "generateName" not in loaded["metadata"]
    assert "ml-serving/deployment-classifier.yaml" in {str(p) for p in paths}


def test_integers_are_written_as_integers(prod_objects: list[RenderedObject], tmp_path: Path) -> None:
    write_manifests(prod_objects, tmp_path / "out")
    text = (tmp_path / "out" / "ml-serving" / "deployment-classifier.yaml").read_text()
    assert "replicas: 3\n" in text
    assert "containerPort: 3000\n" in text
    assert not re.search(r":\s+[0-9]+\.0$", text, re.MULTILINE), "a float leaked into the YAML"

    def walk(value: Any) -> None:
        assert not isinstance(value, float), value
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for obj in prod_objects:
        walk(obj.manifest)


def test_a_schema_violation_fails_naming_object_and_path(dev_objects: list[RenderedObject]) -> None:
    deployment = next(o for o in dev_objects if o.kind == "Deployment")
    broken = dict(deployment.manifest, spec={**deployment.manifest["spec"], "replicas": "two", "replica": 2})
    with pytest.raises(RenderError) as caught:
        _check_schema([RenderedObject(broken, "x")], SchemaCatalog("1.33"))
    message = str(caught.value)
    assert "apps/v1 Deployment slipway-dev/classifier: spec.replicas: 'two' is not of type 'integer'" in message
    assert "'replica' was unexpected" in message


def test_a_container_field_typo_is_caught() -> None:
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "securityContex": {}}]},
    }
    (problem,) = SchemaCatalog("1.33").violations(manifest)
    assert problem.startswith("spec.containers[0]:") and "securityContex" in problem


def test_unknown_kinds_are_violations_not_skips() -> None:
    manifest = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert SchemaCatalog("1.33").violations(manifest) == [
        "no schema for example.com/v1 Widget in Kubernetes 1.33 or infra/schemas"
    ]


def test_unsupported_kubernetes_version_is_a_clear_error() -> None:
    with pytest.raises(SchemaUnavailable, match=r"no Kubernetes schemas for version 1.99 \(kubernetes-validate ships"):
        SchemaCatalog("1.99")


def test_rerender_replaces_stale_files(dev_objects: list[RenderedObject], tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_manifests(dev_objects, out)
    stale = out / "slipway-dev" / "deployment-old.yaml"
    stale.write_text("kind: Deployment\n")
    write_manifests(dev_objects, out)
    assert not stale.exists()
    assert (out / RENDER_MARKER).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"], "staging directories were left behind"


def test_refuses_to_replace_a_directory_it_did_not_write(dev_objects: list[RenderedObject], tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="is not a slipway render output"):
        write_manifests(dev_objects, precious)
    assert (precious / "notes.txt").read_text() == "keep me"


def test_unknown_stack_lists_the_stacks() -> None:
    with pytest.raises(UsageError, match=r"stack 'qa' has no Pulumi.qa.yaml .* \(stacks: dev, prod\)"):
        render_stack(PROJECT_DIR, "qa")


def test_encrypted_values_are_refused_with_the_env_alternative(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.ci.yaml").write_text("config:\n  slipway:modelSignature:\n    secure: AAABAD==\n")
    with pytest.raises(RenderError, match="set SLIPWAY_MODELSIGNATURE instead"):
        render_stack(tmp_path, "ci")
