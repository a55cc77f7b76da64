"""`slipway image build --stack` writes pins into a stack file the way `pulumi config set` would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra.render import render_stack
from infra.stack_file import set_stack_values
from slipway.errors import UsageError
from tests.conftest import PROJECT_DIR

PEM = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAaejkuZmZ8HrKTtJA2t4VN5EAVeZSMFbHd/CEe0BkK4M=\n"
    "-----END PUBLIC KEY-----\n"
)


def _project(tmp_path: Path) -> Path:
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy2(PROJECT_DIR / name, tmp_path / name)
    return tmp_path


def test_pins_replace_values_keep_comments_and_render(tmp_path: Path) -> None:
    project = _project(tmp_path)
    stack = project / "Pulumi.dev.yaml"
    digest = "sha256:" + "ab" * 32
    set_stack_values(
        stack, {"modelImageDigest": digest, "modelPublicKey": PEM, "modelImage": "registry.localhost:5000/x/y"}
    )
    text = stack.read_text()
    assert text.startswith("# The embedded default")  # comments kept
    assert "# one replica: the review queue is SQLite" in text
    config = yaml.safe_load(text)["config"]
    assert config["slipway:modelImageDigest"] == digest
    assert config["slipway:modelPublicKey"] == PEM
    assert config["slipway:namespace"] == "slipway-dev"  # untouched
    (deployment,) = [o for o in render_stack(project, "dev") if o.kind == "Deployment"]
    assert deployment.manifest["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"registry.localhost:5000/x/y@{digest}"
    )


def test_a_new_key_is_added_under_config(tmp_path: Path) -> None:
    stack = _project(tmp_path) / "Pulumi.dev.yaml"
    set_stack_values(stack, {"keysSecret": "team-keys"})
    assert yaml.safe_load(stack.read_text())["config"]["slipway:keysSecret"] == "team-keys"


def test_a_file_it_cannot_edit_is_refused_untouched(tmp_path: Path) -> None:
    stack = tmp_path / "Pulumi.odd.yaml"
    stack.write_text("config: {slipway:namespace: x}\n")
    with pytest.raises(UsageError, match="no top-level `config:` section"):
        set_stack_values(stack, {"modelImageDigest": "sha256:" + "0" * 64})
    assert stack.read_text() == "config: {slipway:namespace: x}\n"
