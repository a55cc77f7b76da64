"""The model-side commands, run as a user would: keys, train, review, drift report, bentoml build."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.bentos.conftest import Trained, dataset, record
from tests.conftest import BENTOML_HOME, PROJECT_DIR, SLIPWAY, LocalIssuer
from tests.wdbc import FEATURE_NAMES, WDBC


def _slipway(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLIPWAY, *args],
        env={**os.environ, "SLIPWAY_HOME": str(home), "BENTOML_HOME": str(BENTOML_HOME), **env},
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_DIR,
    )


def test_keys_then_train_prints_what_to_pin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _slipway("keys", "generate", home=home).returncode == 0
    again = _slipway("keys", "generate", home=home)  # never silently overwritten
    assert again.returncode == 2 and "use `slipway keys rotate` to replace it" in again.stderr
    result = _slipway("train", "--seed", "11", home=home)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["tag"].startswith("classifier:") and report["digest"].startswith("sha256:")
    assert report["metrics"]["accuracy"] >= 0.9
    shown = json.loads(_slipway("keys", "show", home=home).stdout)
    assert shown["fingerprint"].startswith("sha256:")
    assert "PRIVATE" not in result.stdout + result.stderr
    training = _training_metrics(home)
    assert training['slipway_training_last_outcome{outcome="accepted"}'] == 1.0
    assert training["slipway_training_holdout_accuracy"] == report["metrics"]["accuracy"]
    assert "slipway_training_last_success_timestamp_seconds" in training


def _training_metrics(home: Path) -> dict[str, float]:
    """$SLIPWAY_HOME/metrics/training.prom as {series: value} (what the textfile collector exposes)."""
    from prometheus_client.parser import text_string_to_metric_families

    text = (home / "metrics" / "training.prom").read_text()
    series = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            series[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return series


def test_train_without_keys_is_a_clear_error(tmp_path: Path) -> None:
    result = _slipway("train", home=tmp_path / "empty")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"slipway: error: no signing key at {tmp_path / 'empty' / 'keys' / 'signing.key'}; run `slipway keys generate`"
    )
    assert _training_metrics(tmp_path / "empty")['slipway_training_last_outcome{outcome="failed"}'] == 1.0


def test_a_bad_candidate_is_rejected_and_nothing_is_stored(tmp_path: Path, trained: Trained) -> None:
    home = tmp_path / "home"
    _slipway("keys", "generate", home=home)
    records, labels = dataset()
    rng = np.random.default_rng(0)
    shuffled = rng.permutation(labels)  # labels unrelated to the features: no model can learn them
    data = tmp_path / "noise.csv"
    with data.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FEATURE_NAMES, "diagnosis"])
        writer.writeheader()
        for row, label in zip(records, shuffled, strict=True):
            writer.writerow({**row, "diagnosis": "malignant" if label else "benign"})
    before = {p.name for p in (BENTOML_HOME / "models" / "classifier").iterdir()}
    result = _slipway("train", "--data", str(data), home=home)
    assert result.returncode == 1
    assert "is below the contract's min_accuracy 0.9: not stored" in result.stderr
    assert {p.name for p in (BENTOML_HOME / "models" / "classifier").iterdir()} == before
    training = _training_metrics(home)  # what the RetrainingFailed alert reads
    assert training['slipway_training_last_outcome{outcome="rejected"}'] == 1.0
    assert training['slipway_training_last_outcome{outcome="accepted"}'] == 0.0
    assert training["slipway_training_holdout_accuracy"] < 0.9


def test_review_list_resolve_export(local_issuer: LocalIssuer, home: Path, trained: Trained, tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings

    runtime = ModelRuntime.start(ServerSettings(), CollectorRegistry(), WDBC)
    _, body = runtime.predict({"record": record(0)}, "req-cli")
    review_id = body["results"][0]["review_id"]
    as_dr_cli = {"SLIPWAY_TOKEN": local_issuer.mint("dr.cli", "reviewer")}
    unauthenticated = _slipway("review", "list", home=home)
    assert unauthenticated.returncode == 2 and "act as a verified subject" in unauthenticated.stderr
    listed = json.loads(_slipway("review", "list", home=home, **as_dr_cli).stdout)
    assert [i["review_id"] for i in listed["items"]] == [review_id]
    token_file = tmp_path / "token"
    token_file.write_text(local_issuer.mint("dr.cli", "reviewer"))
    resolved = _slipway("review", "--token-file", str(token_file), "resolve", review_id, "--label", "malignant",
                        home=home)  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    first = json.loads(resolved.stdout)
    assert (first["first_reviewer"], first["stage"], first["status"]) == ("dr.cli", "second", "pending")  # four eyes
    as_dr_x = {"SLIPWAY_TOKEN": local_issuer.mint("dr.x", "reviewer")}
    plain = _slipway("review", "resolve", review_id, "--label", "malignant", home=home, **as_dr_x)
    assert plain.returncode == 1 and "needs one of the roles second-reviewer, admin" in plain.stderr
    as_second = {"SLIPWAY_TOKEN": local_issuer.mint("dr.y", "second-reviewer")}
    confirmed = _slipway("review", "resolve", review_id, "--label", "malignant", home=home, **as_second)
    assert confirmed.returncode == 0 and json.loads(confirmed.stdout)["reviewer"] == "dr.y"
    again = _slipway("review", "resolve", review_id, "--label", "benign", home=home, **as_second)
    assert again.returncode == 1 and "already resolved by dr.y" in again.stderr
    out = tmp_path / "labels.csv"
    not_admin = _slipway("review", "export", "--out", str(out), home=home, **as_dr_x)
    assert not_admin.returncode == 1 and "needs one of the roles admin" in not_admin.stderr and not out.exists()
    as_admin = {"SLIPWAY_TOKEN": local_issuer.mint("ops.admin", "admin")}
    assert _slipway("review", "export", "--out", str(out), home=home, **as_admin).returncode == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert len(rows) == 1 and rows[0]["diagnosis"] == "malignant" and float(rows[0]["mean_radius"]) > 0
    assert _slipway("audit", "verify", "reviews", home=home).returncode == 0


def _write_csv(path: Path, matrix: np.ndarray) -> None:
    """Half the columns under the dataset's own names (contract aliases), half canonical."""
    from sklearn.datasets import load_breast_cancer

    dataset_names = [str(n) for n in load_breast_cancer().feature_names]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([dataset_names[i] if i % 2 else name for i, name in enumerate(FEATURE_NAMES)])
        writer.writerows(matrix.tolist())


def test_drift_report_finds_shifted_features_and_draws_them(home: Path, trained: Trained, tmp_path: Path) -> None:
    records, _ = dataset()
    matrix = np.array([[r[n] for n in FEATURE_NAMES] for r in records])
    shifted = matrix.copy()
    shifted[:, FEATURE_NAMES.index("mean_texture")] *= 1.6
    data = tmp_path / "shifted.csv"
    _write_csv(data, shifted)
    result = _slipway("drift", "report", str(data), "--out", str(tmp_path / "report"), home=home,
                      SLIPWAY_MODEL=trained.tag)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report" / "drift.json").read_text())
    assert "mean_texture" in report["drifted"]
    assert report["features"]["mean_texture"]["psi"] > 0.25
    assert "mean_radius" not in report["drifted"]
    png = tmp_path / "report" / "drift-mean_texture.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "report" / "drift-mean_radius.png").exists()


def test_drift_report_rejects_unusable_data(home: Path, trained: Trained, tmp_path: Path) -> None:
    data = tmp_path / "few.csv"
    data.write_text("mean_radius\n1.0\n")
    result = _slipway("drift", "report", str(data), home=home, SLIPWAY_MODEL=trained.tag)
    assert result.returncode == 2 and "lacks contract feature column(s)" in result.stderr
    result = _slipway("drift", "report", str(tmp_path / "missing.csv"), home=home, SLIPWAY_MODEL=trained.tag)
    assert result.returncode == 2 and "no such data file" in result.stderr


@pytest.mark.slow
def test_bentoml_build_packages_the_service_and_model(trained: Trained) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("bentoml")), "build", "-f", "bentos/classifier/bentofile.yaml", ".",
         "-o", "tag"],
        cwd=PROJECT_DIR, env={**os.environ, "BENTOML_HOME": str(BENTOML_HOME), "BENTOML_DO_NOT_TRACK": "true"},
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    tag = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = tag.split(":")
    bento = BENTOML_HOME / "bentos" / name / version
    manifest = yaml.safe_load((bento / "bento.yaml").read_text())
    assert manifest["service"] == "bentos.classifier.service:Classifier"
    assert manifest["labels"] == {"owner": "ml-platform", "project": "slipway"}
    assert (bento / "src" / "bentos" / "classifier" / "service.py").is_file()
    assert (bento / "src" / "slipway" / "contract.py").is_file()
