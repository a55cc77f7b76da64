"""The image's SBOM, from the image the real `slipway image build` made: what it lists is what the
image holds (its Debian packages and Python distributions), it validates, it is reproducible, and
the package signs it like any other file (slow: it needs the image)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from evidence.image_sbom import Image, contents, find_image, image_sbom_json
from evidence.sbom import sbom_problems
from images.build import installed_packages
from images.engine import Engine
from tests.conftest import PROJECT_DIR, SLIPWAY, BuiltImage

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def package(model_image: BuiltImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("evidence") / "out"
    env = {**os.environ, "SLIPWAY_HOME": str(model_image.slipway_home)}
    done = subprocess.run([SLIPWAY, "evidence", "--stack", "dev", "--out", str(out), "--image", model_image.reference],
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def _components(sbom: dict[str, Any], kind: str) -> dict[str, str]:
    return {c["name"]: c["version"] for c in sbom["components"] if c.get("purl", "").startswith(f"pkg:{kind}/")}


def test_it_lists_what_the_image_holds(package: Path, model_image: BuiltImage) -> None:
    sbom = json.loads((package / "image.cdx.json").read_text())
    assert sbom_problems(sbom) == []
    root = sbom["metadata"]["component"]
    digest = model_image.reference.split("@", 1)[1]
    assert root["type"] == "container" and root["hashes"][0]["content"] == digest.removeprefix("sha256:")
    assert _components(sbom, "pypi") == installed_packages(Engine.find(), model_image.reference)
    debian = _components(sbom, "deb")
    assert {"python3", "libstdc++6", "ca-certificates", "tzdata", "dpkg"} <= set(debian)
    locked = [c for c in sbom["components"] if c["name"] == "numpy"]
    assert locked and any(r.get("hashes") for r in locked[0]["externalReferences"])  # the lock's file hashes


def test_the_sbom_check_names_the_image_and_the_package_verifies(package: Path, model_image: BuiltImage) -> None:
    (result,) = json.loads((package / "assessment-results.json").read_text())["assessment-results"]["results"]
    (sbom,) = [o for o in result["observations"] if o["title"] == "Software bills of materials"]
    assert model_image.reference in sbom["description"]
    items = {i["uuid"]: i["props"][0]["value"] for i in result["local-definitions"]["inventory-items"]}
    assert [items[s["subject-uuid"]] for s in sbom["subjects"] if s["type"] == "inventory-item"] == ["image"]
    env = {**os.environ, "SLIPWAY_HOME": str(model_image.slipway_home)}
    verify = [SLIPWAY, "evidence", "verify", str(package)]
    assert subprocess.run(verify, env=env, capture_output=True, check=False).returncode == 0
    sbom_file = package / "image.cdx.json"
    original = sbom_file.read_bytes()
    try:
        sbom_file.write_bytes(original.replace(b'"tzdata"', b'"tzdatb"'))
        tampered = subprocess.run(verify, env=env, capture_output=True, text=True, check=False)
        assert tampered.returncode == 1 and "image.cdx.json" in tampered.stderr
    finally:
        sbom_file.write_bytes(original)


def test_the_same_image_gives_the_same_bytes(model_image: BuiltImage) -> None:
    image = find_image({}, model_image.reference)
    assert isinstance(image, Image)
    when = datetime.datetime(2026, 12, 1, 12, tzinfo=datetime.UTC)
    first, second = (image_sbom_json(image, contents(image), PROJECT_DIR / "uv.lock", when) for _ in range(2))
    assert first == second


def test_a_stack_pinned_to_the_built_image_and_model_is_assessed_with_them(
    model_image: BuiltImage, tmp_path: Path
) -> None:
    """As after `slipway image build --stack dev`: the pins are real, so the model verifies (SI-7
    satisfied), its card is included, and the pinned image is found here by digest and described."""
    from images.build import ModelFacts
    from infra.stack_file import set_stack_values

    project = tmp_path / "project"
    (project / "policies").mkdir(parents=True)
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "uv.lock", "policies/gate.yaml"):
        shutil.copy2(PROJECT_DIR / name, project / name)
    model = ModelFacts.from_labels(Engine.find().labels(model_image.reference))
    digest = model_image.reference.split("@", 1)[1]
    set_stack_values(project / "Pulumi.dev.yaml", {"modelImageDigest": digest, "modelArtifactDigest": model.digest,
                                                   "modelSignature": model.signature,
                                                   "modelPublicKey": model.public_key_pem})  # fmt: skip
    env = {**os.environ, "SLIPWAY_HOME": str(model_image.slipway_home), "BENTOML_HOME": str(model_image.bentoml_home)}
    out = tmp_path / "out"
    done = subprocess.run([SLIPWAY, "evidence", "--stack", "dev", "--out", str(out)], cwd=project, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    (result,) = json.loads((out / "assessment-results.json").read_text())["assessment-results"]["results"]
    states = {f["target"]["target-id"]: f["target"]["status"]["state"] for f in result["findings"]}
    assert states["si-7_obj"] == "satisfied" and summary["not_satisfied"] == 0 and summary["open_items"] == 0
    card = json.loads((out / "model-card.json").read_text())
    assert card["contract"]["name"] and (out / "image.cdx.json").is_file()
    (image,) = [i for i in result["local-definitions"]["inventory-items"] if i["props"][0]["value"] == "image"]
    assert "examined-image" not in {p["name"] for p in image["props"]}  # the examined image is the pinned one
    verify = subprocess.run([SLIPWAY, "evidence", "verify", str(out)], cwd=project, env=env, capture_output=True,
                            check=False)  # fmt: skip
    assert verify.returncode == 0
