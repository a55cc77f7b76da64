"""`slipway rehearse` against the real image in podman (slow): the dev stack would run; a broken
manifest is caught, naming the workload and the reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from images.engine import Engine
from infra.rehearse.cli import _render
from tests.conftest import PROJECT_DIR, SLIPWAY, BuiltImage

pytestmark = pytest.mark.slow


def _rehearse(*args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run([SLIPWAY, "rehearse", "--format", "json", *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, check=False, timeout=1200)  # fmt: skip
    return done.returncode, json.loads(done.stdout), done.stderr


def test_every_dev_workload_would_run(model_image: BuiltImage, tmp_path: Path) -> None:
    code, report, _ = _rehearse("--stack", "dev", "--image", model_image.reference, "--out", str(tmp_path / "m"))
    assert code == 0, json.dumps(report, indent=1)[-4000:]
    by_name = {w["workload"]: w for w in report["workloads"]}
    order = list(by_name)
    assert order[0] == "Deployment/classifier"
    assert set(order[1:]) == {"CronJob/pipeline", "CronJob/drift-report", "CronJob/retrain"}
    assert order.index("CronJob/drift-report") > order.index("CronJob/pipeline")  # it reads the pipeline's output
    server = by_name["Deployment/classifier"]
    assert server["started"] and server["ready_after_seconds"] is not None
    assert set(server["probes"]) == {"startup", "readiness", "liveness"}
    assert "high-stakes malignant → review rv-" in server["prediction"]
    assert server["stopped_cleanly"] is True and server["exit_code"] in (0, 143)
    for job in ("CronJob/pipeline", "CronJob/drift-report", "CronJob/retrain"):
        assert by_name[job]["exit_code"] == 0, by_name[job]
    pipeline = json.loads(by_name["CronJob/pipeline"]["output"])
    assert pipeline["totals"]["rows_in"] > 0 and pipeline["exit_code"] == 0
    assert report["secret_standins"] == ["slipway-keys/data.key", "slipway-keys/review.key",
                                         "slipway-signing-key/signing.key"]  # fmt: skip
    assert "NetworkPolicy enforcement" in report["not_shown"]


def _without_keys(path: Path) -> None:
    deployment = yaml.safe_load(path.read_text())
    pod = deployment["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "keys"]
    container = pod["containers"][0]
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "keys"]
    path.write_text(yaml.safe_dump(deployment))


def test_a_server_without_its_key_volume_fails_naming_workload_and_reason(
    model_image: BuiltImage, tmp_path: Path
) -> None:
    out = tmp_path / "manifests"
    _render("dev", model_image.reference, Engine.find("podman"), out)
    _without_keys(out / "slipway-dev" / "deployment-classifier.yaml")
    for job in out.glob("slipway-dev/cronjob-*.yaml"):
        job.unlink()  # only the server matters here
    code, report, stderr = _rehearse("--manifests", str(out), "--image", model_image.reference,
                                     "--ready-timeout", "20", "--seed", "none")  # fmt: skip
    assert code == 1
    (server,) = report["workloads"]
    assert server["workload"] == "Deployment/classifier" and not server["ok"]
    (problem,) = server["problems"]
    assert problem.startswith("never ready within 20 s: GET /readyz on http answered HTTP 503")
    assert "model refused" in problem and "no public key at /etc/slipway/keys/signing.pub" in problem
    assert stderr.strip() == "slipway: rehearsal failed: Deployment/classifier"


def test_a_job_that_cannot_write_fails_with_its_exit_code(model_image: BuiltImage, tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    _render("dev", model_image.reference, Engine.find("podman"), out)
    keep = {"cronjob-pipeline", "configmap-pipeline-config", "configmap-model-public-key",
            "persistentvolumeclaim-slipway-state"}  # fmt: skip
    for path in out.glob("slipway-dev/*.yaml"):
        if path.stem not in keep:
            path.unlink()
    job_file = out / "slipway-dev" / "cronjob-pipeline.yaml"
    job = yaml.safe_load(job_file.read_text())
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "slipway-state"]
    pod["containers"][0]["volumeMounts"] = [
        m for m in pod["containers"][0]["volumeMounts"] if m["name"] != "slipway-state"
    ]
    job_file.write_text(yaml.safe_dump(job))
    code, report, _ = _rehearse("--manifests", str(out), "--image", model_image.reference, "--seed", "none")
    assert code == 1
    (result,) = report["workloads"]
    assert result["workload"] == "CronJob/pipeline" and result["exit_code"] not in (0, None), result
    assert result["problems"][0].startswith(f"exited {result['exit_code']}")
