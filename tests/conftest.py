"""Shared test setup: every test starts with no SLIPWAY_* or Pulumi config from the environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
SLIPWAY = str(Path(sys.executable).with_name("slipway"))  # the installed console script
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# BentoML binds its model store to $BENTOML_HOME when first imported: one isolated store per test session.
BENTOML_HOME = Path(tempfile.mkdtemp(prefix="slipway-test-bentoml-"))
os.environ["BENTOML_HOME"] = str(BENTOML_HOME)
# The random audit sample would add cases at random to queues tests count; tests of it set a rate.
os.environ["SLIPWAY_AUDIT_SAMPLE_RATE"] = "0"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("SLIPWAY_", "PULUMI_CONFIG", "KUBECONFIG")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "slipway-home"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    monkeypatch.setenv("SLIPWAY_AUDIT_SAMPLE_RATE", "0")
    yield


@dataclass(frozen=True)
class BuiltImage:
    """The model-server image built once per session by `slipway image build` (the real CLI)."""

    reference: str
    name: str
    summary: dict[str, Any]
    slipway_home: Path
    bentoml_home: Path


def _cli(*args: str, env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLIPWAY, *args], env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def model_image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    """keys generate → train → image build, in homes of its own; the image is removed afterwards
    (the base image and the layer cache stay: that is what makes the next build fast)."""
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed: `make test` installs it (make system-tools)")
    root = tmp_path_factory.mktemp("image")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_")},
        "SLIPWAY_HOME": str(root / "home"),
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    for step in (("keys", "generate"), ("train", "--seed", "7")):
        done = _cli(*step, env=env)
        assert done.returncode == 0, done.stderr
    tag = f"test-{uuid.uuid4().hex[:8]}"
    done = _cli("image", "build", "--tag", tag, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    yield BuiltImage(done.stdout.strip().splitlines()[-1], summary["image"], summary, root / "home", root / "bentoml")
    subprocess.run(["podman", "rmi", "--force", summary["image"]], capture_output=True, check=False,
                   env={**os.environ, "CONTAINERS_CONF": str(PROJECT_DIR / "images" / "containers.conf")})  # fmt: skip


@dataclass
class LocalIssuer:
    """The kit's dev issuer serving on loopback for this test's $SLIPWAY_HOME (servers there trust it)."""

    url: str
    issuer: Any  # slipway.identity.dev_issuer.DevIssuer

    def mint(self, subject: str, *roles: str, **options: Any) -> str:
        token: str = self.issuer.mint(subject, roles, **options)
        return token

    def headers(self, subject: str, *roles: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(subject, *roles)}"}


@pytest.fixture
def local_issuer() -> Iterator[LocalIssuer]:
    from slipway.identity.dev_issuer import DevIssuer
    from slipway.identity.settings import dev_issuer_dir

    issuer = DevIssuer(dev_issuer_dir())
    with issuer.serving() as url:
        yield LocalIssuer(url, issuer)
