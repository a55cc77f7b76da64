"""The model-server image, built by the real `slipway image build` with podman (slow)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from images.build import ModelFacts, installed_packages
from images.engine import Engine
from images.requirements import runtime_packages
from tests.conftest import PROJECT_DIR, SLIPWAY, BuiltImage

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.find("podman")


def _normalised(name: str) -> str:
    return name.replace("_", "-").replace(".", "-").lower()


def test_the_image_holds_exactly_the_locked_runtime_packages(model_image: BuiltImage, engine: Engine) -> None:
    inside = installed_packages(engine, model_image.reference)
    expected = {_normalised(n): v for n, v in runtime_packages().items()}
    slipway_version = inside.pop("slipway")
    assert slipway_version == "0.1.0"
    assert inside == expected


def test_it_runs_as_the_pod_uid_and_carries_the_model_but_none_of_the_keys(
    model_image: BuiltImage, engine: Engine
) -> None:
    config = engine.inspect_image(model_image.reference)["Config"]
    assert config["User"] == "10001:10001"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["SLIPWAY_BENTO"] == "/opt/slipway/bento" and env["BENTOML_DO_NOT_TRACK"] == "true"
    facts = ModelFacts.from_labels(engine.labels(model_image.reference))
    assert facts.digest == model_image.summary["model"]["digest"]
    private = (model_image.slipway_home / "keys" / "signing.key").read_text().strip().splitlines()[1]
    review_key = (model_image.slipway_home / "keys" / "review.key").read_text().strip()
    data_key = (model_image.slipway_home / "keys" / "data.key").read_text().strip()
    script = (
        "import os,sys\n"
        "hits=[]\n"
        "for top in ('/opt','/etc','/usr/local','/root','/home'):\n"
        "  for d,_,fs in os.walk(top):\n"
        "    for f in fs:\n"
        "      p=os.path.join(d,f)\n"
        "      try: b=open(p,'rb').read()\n"
        "      except OSError: continue\n"
        "      if any(k.encode() in b for k in sys.argv[1:]): hits.append(p)\n"
        "print(hits)"
    )
    done = engine.run(["run", "--rm", "--pull=never", "--network=none", "--user", "0", model_image.reference,
                       "python", "-c", script, private, review_key, data_key])  # fmt: skip
    assert done.stdout.strip() == "[]"
    listing = engine.run(["run", "--rm", "--pull=never", "--network=none", model_image.reference,
                          "ls", "/opt/slipway/bento/models/classifier"]).stdout.split()  # fmt: skip
    assert model_image.summary["model"]["tag"].split(":")[1] in listing


def test_the_image_serves_the_contract_its_model_was_made_for(model_image: BuiltImage, engine: Engine) -> None:
    from slipway.contract import CONTRACTS

    env = dict(item.split("=", 1) for item in engine.inspect_image(model_image.reference)["Config"]["Env"])
    carried = engine.run(["run", "--rm", "--pull=never", "--network=none", model_image.reference,
                          "cat", env["SLIPWAY_CONTRACT"]]).stdout  # fmt: skip
    assert carried == (CONTRACTS / "wdbc.yaml").read_text(encoding="utf-8")


def test_a_model_of_a_contract_the_kit_does_not_carry_needs_that_contract(tmp_path: Path) -> None:
    from images.build import model_contract
    from slipway.errors import UsageError

    card = {"contract": {"name": "loans", "version": 3, "digest": "sha256:" + "0" * 64}}
    with pytest.raises(UsageError, match="made for contract loans v3"):
        model_contract(card, None)
    with pytest.raises(UsageError, match="pass --contract FILE"):
        model_contract(card, "credit")


def test_a_second_build_of_the_same_inputs_is_the_same_image(model_image: BuiltImage) -> None:
    env = {**os.environ, "SLIPWAY_HOME": str(model_image.slipway_home), "BENTOML_HOME": str(model_image.bentoml_home)}
    done = subprocess.run([SLIPWAY, "image", "build", "--tag", model_image.name.rsplit(":", 1)[1]], env=env,
                          cwd=PROJECT_DIR, capture_output=True, text=True, check=False, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stderr.strip().splitlines()[-1])
    assert summary["base"]["how"] == "cached (image)"
    assert summary["cached"] is True
    assert summary["reference"] == model_image.reference  # nothing changed: the very same image


def test_an_unverifiable_model_is_never_packaged(model_image: BuiltImage, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    env = {**os.environ, "SLIPWAY_HOME": str(other), "BENTOML_HOME": str(model_image.bentoml_home)}
    subprocess.run([SLIPWAY, "keys", "generate"], env=env, capture_output=True, check=True)
    done = subprocess.run([SLIPWAY, "image", "build"], env=env, cwd=PROJECT_DIR, capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("slipway: error: will not package an unverifiable model: model classifier:")
    assert "failed signature verification" in done.stderr and "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """Debian's docker-registry (the CNCF distribution registry) on loopback, storage in tmp_path."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed: `make test` installs it (make system-tools)")
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog: {level: error}\n"
        f"storage: {{filesystem: {{rootdirectory: {tmp_path / 'storage'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    log = (tmp_path / "registry.log").open("wb")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60  # a refused connection returns at once: bound by time, not tries
        with httpx.Client() as client:
            while True:
                try:
                    if client.get(f"http://127.0.0.1:{port}/v2/", timeout=0.5).status_code == 200:
                        break
                except httpx.HTTPError:
                    process.poll()
                    assert process.returncode is None, "the registry exited"
                if time.monotonic() > deadline:
                    pytest.fail("the registry never answered")
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_push_prints_the_digest_the_registry_serves(model_image: BuiltImage, registry: str) -> None:
    env = {**os.environ, "SLIPWAY_HOME": str(model_image.slipway_home), "BENTOML_HOME": str(model_image.bentoml_home)}
    tag = model_image.name.rsplit(":", 1)[1]
    done = subprocess.run([SLIPWAY, "image", "build", "--tag", tag, "--push", registry], env=env, cwd=PROJECT_DIR,
                          capture_output=True, text=True, check=False, timeout=900)  # fmt: skip
    subprocess.run(["podman", "rmi", f"{registry}/slipway/classifier:{tag}"], capture_output=True, check=False,
                   env={**os.environ, "CONTAINERS_CONF": str(PROJECT_DIR / "images" / "containers.conf")})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    reference = done.stdout.strip().splitlines()[-1]
    assert reference.startswith(f"{registry}/slipway/classifier@sha256:")
    manifest = httpx.get(
        f"http://{registry}/v2/slipway/classifier/manifests/{tag}",
        headers={
            "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
        },
    )
    assert manifest.status_code == 200
    assert manifest.headers["Docker-Content-Digest"] == reference.split("@", 1)[1]
    assert reference.split("@", 1)[1] != model_image.reference.split("@", 1)[1]  # the local digest differs
