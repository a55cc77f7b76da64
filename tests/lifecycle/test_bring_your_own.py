"""An engineer brings a contract file and data the kit has never seen: train (or import), serve,
predict, pipeline and drift, through the real CLI and a real `bentoml serve` — no Python edited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import polars as pl
import pytest

from slipway.contract import CONTRACTS
from slipway.identity.dev_issuer import DevIssuer
from tests.bentos.server import running
from tests.conftest import PROJECT_DIR, SLIPWAY

MAKE_CREDIT = PROJECT_DIR / "contracts" / "examples" / "make_credit.py"
pytestmark = pytest.mark.slow


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLIPWAY, *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def _ok(env: dict[str, str], *args: str) -> Any:
    result = _cli(env, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def engineer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A working directory outside the repository: a copy of the contract, fresh data, own homes, and
    the kit's dev issuer for that home (reviewers act with its tokens)."""
    root = tmp_path_factory.mktemp("byom")
    contract = root / "loans.yaml"
    contract.write_text((CONTRACTS / "credit.yaml").read_text(encoding="utf-8").replace("name: credit", "name: loans"))
    data = root / "applications.csv"  # another seed: rows nobody in the kit has seen
    subprocess.run([sys.executable, str(MAKE_CREDIT), "--seed", "2027", "--rows", "1200", "--out", str(data)],
                   check=True)  # fmt: skip
    env = {**os.environ, "SLIPWAY_HOME": str(root / "home"), "BENTOML_HOME": str(root / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "true"}  # fmt: skip
    env.pop("SLIPWAY_CONTRACT", None)
    _ok(env, "keys", "generate")
    trained = _ok(env, "train", "--contract", str(contract), "--data", str(data))
    issuer = DevIssuer(root / "home" / "auth")
    with issuer.serving():
        yield {"root": root, "contract": contract, "data": data, "env": env, "trained": trained, "issuer": issuer}


def test_train_on_an_unseen_csv_with_the_contract_file_alone(engineer: dict[str, Any]) -> None:
    metrics = engineer["trained"]["metrics"]
    assert set(metrics["per_class"]) == {"low", "medium", "high"}
    assert metrics["accuracy"] >= 0.75 and engineer["trained"]["rows"] == 1200


def test_serve_predict_and_route_including_a_category_training_never_had(engineer: dict[str, Any]) -> None:
    env = {**engineer["env"], "SLIPWAY_MODEL": engineer["trained"]["tag"]}
    typical = {"age": 45, "annual_income": 52000.0, "loan_amount": 4000.0, "term_months": 36,
               "employment": "salaried", "home": "own", "open_credit_lines": 2, "prior_default": False,
               "debt_to_income": 0.1, "region": "north", "branch_code": "BR101"}  # fmt: skip
    env["SLIPWAY_CONTRACT"] = str(engineer["contract"])
    with running(env, engineer["root"] / "server.log") as server:
        server.wait_until_up("/readyz")
        answer = httpx.post(f"{server.url}/predict", json={"record": typical}, timeout=30)
        assert answer.status_code == 200, answer.text
        result = answer.json()["results"][0]
        assert result["prediction"] in {"low", "medium", "high"}
        assert set(result["probabilities"]) == {"low", "medium", "high"}
        assert result["confidence"] == max(result["probabilities"].values())

        overseas = httpx.post(f"{server.url}/predict", json={"record": {**typical, "region": "overseas"}}, timeout=30)
        assert overseas.status_code == 200, overseas.text
        routed = overseas.json()["results"][0]
        assert "out_of_distribution" in routed["reasons"] and "region" in routed["unusual_features"]
        assert routed["decision"] == "review" and routed["review_id"]

        sparse = {k: v for k, v in typical.items() if k not in ("home", "debt_to_income", "branch_code")}
        assert httpx.post(f"{server.url}/predict", json={"record": sparse}, timeout=30).status_code == 200

        refused = httpx.post(f"{server.url}/predict", json={"record": {**typical, "region": "atlantis"}}, timeout=30)
        assert refused.status_code == 422
        assert refused.json()["errors"][0] == {"record": 0, "field": "region", "problem": "out_of_range",
                                               "message": refused.json()["errors"][0]["message"]}  # fmt: skip
        decision = {"review_id": routed["review_id"], "label": "malignant", "version": 1}
        reviewer = {"Authorization": "Bearer " + engineer["issuer"].mint("analyst.a", ["reviewer"])}
        bad_label = httpx.post(f"{server.url}/review/resolve", json=decision, headers=reviewer, timeout=30)
        assert bad_label.status_code == 422 and "low" in bad_label.json()["error"]
        metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
        assert 'slipway_predicted_class_total{predicted_class="' in metrics

    review = ["review", "--contract", str(engineer["contract"])]
    as_analyst = {**engineer["env"], "SLIPWAY_TOKEN": engineer["issuer"].mint("analyst.a", ["reviewer"])}
    assert _cli(as_analyst, *review, "resolve", routed["review_id"], "--label", "nonsense").returncode == 2
    resolved = _ok(as_analyst, *review, "resolve", routed["review_id"], "--label", "M")
    assert resolved["label"] == "medium" and resolved["reviewer"] == "analyst.a"  # the contract's value alias
    exported = engineer["root"] / "labels.csv"
    as_admin = {**engineer["env"], "SLIPWAY_TOKEN": engineer["issuer"].mint("ops.admin", ["admin"])}
    _ok(as_admin, *review, "export", "--out", str(exported))
    header = exported.read_text().splitlines()[0].split(",")
    assert header[0] == "application_id" and header[-1] == "risk" and "region" in header


def test_the_pipeline_and_a_drift_report_with_the_same_contract(engineer: dict[str, Any]) -> None:
    root = engineer["root"]
    incoming = root / "incoming"
    incoming.mkdir()
    frame = pl.read_csv(engineer["data"], infer_schema=False).head(300)
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(pl.lit("atlantis")).otherwise("region")
                               .alias("region"))  # fmt: skip
    frame.rename({"employment": "Employment Type", "application_id": "App ID"}).write_csv(incoming / "batch.csv")
    config = root / "pipeline.yaml"
    config.write_text(
        f"contract: {engineer['contract'].name}\nsources:\n  - {{name: branch, kind: files, path: incoming}}\n"
    )
    report = _ok(engineer["env"], "pipeline", "run", "--config", str(config), "--out", str(root / "pipeline"))
    totals = report["totals"]
    assert (totals["rows_in"], totals["rows_out"], totals["quarantined"]) == (300, 299, 1)
    assert report["contract"]["name"] == "loans"
    changes = totals["schema_changes"][0]["renamed"]
    assert changes == {"Employment Type": "employment", "App ID": "application_id"}
    data = pl.read_parquet(root / "pipeline" / "data" / "records.parquet")
    assert data.schema["age"] == pl.Int64 and data.schema["prior_default"] == pl.Boolean
    assert data["debt_to_income"].null_count() > 0  # missing optional values survive as missing

    env = engineer["env"]  # no SLIPWAY_MODEL: the newest model made for the contract
    drift = _ok(env, "drift", "report", str(root / "pipeline" / "data" / "records.parquet"),
                "--contract", str(engineer["contract"]), "--out", str(root / "drift"))  # fmt: skip
    assert drift["features"]["region"]["kind"] == "category" and drift["features"]["age"]["kind"] == "numeric"
    assert drift["contract"]["name"] == "loans"
    records = str(root / "pipeline" / "data" / "records.parquet")
    none = _cli(env, "drift", "report", records, "--contract", "wdbc")
    assert none.returncode == 1 and "no model in the model store was made for contract wdbc" in none.stderr
    pinned = {**env, "SLIPWAY_MODEL": engineer["trained"]["tag"]}
    wrong = _cli(pinned, "drift", "report", records, "--contract", "wdbc")
    assert wrong.returncode == 1 and "made for contract loans" in wrong.stderr


def test_a_model_trained_elsewhere_is_imported_from_skops(engineer: dict[str, Any]) -> None:
    import skops.io
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from lifecycle.data import load_labelled
    from slipway.contract import load_contract

    contract = load_contract(engineer["contract"])
    labelled = load_labelled(contract, engineer["data"])
    categories = [f.name for f in contract.inputs if f.type == "category"]
    numbers = [f.name for f in contract.inputs if f.type != "category"]
    encoder = make_pipeline(SimpleImputer(missing_values=None, strategy="constant", fill_value="?"),
                            OneHotEncoder(handle_unknown="ignore"))  # fmt: skip
    model = make_pipeline(
        ColumnTransformer([("c", encoder, categories), ("n", "passthrough", numbers)]),
        HistGradientBoostingClassifier(max_iter=60, random_state=0),
    ).fit(labelled.frame, labelled.labels)
    root = engineer["root"]
    skops.io.dump(model, root / "model.skops")
    holdout = root / "holdout.csv"
    subprocess.run([sys.executable, str(MAKE_CREDIT), "--seed", "404", "--rows", "600", "--out", str(holdout)],
                   check=True)  # fmt: skip
    env, contract_file = engineer["env"], str(engineer["contract"])
    args = ["model", "import", str(root / "model.skops"), "--contract", contract_file, "--data", str(holdout)]
    untrusted = _cli(env, *args)  # a gradient-boosted model holds types skops wants a person to review
    assert untrusted.returncode == 2 and "does not trust by default" in untrusted.stderr
    trust = [f"--trust={t}" for t in untrusted.stderr.split("by default: ")[1].split(";")[0].split(", ")]
    imported = _cli(env, *args, *trust)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["metrics"]["accuracy"] >= 0.75

    shutil.copy(root / "model.skops", root / "model.joblib")
    pickled = _cli(env, "model", "import", str(root / "model.joblib"), "--contract", contract_file, "--data",
                   str(holdout))  # fmt: skip
    assert pickled.returncode == 2 and "loading it runs any code" in pickled.stderr
    wrong = _cli(
        env, "model", "import", str(root / "model.skops"), "--contract", "wdbc", "--data", str(holdout), *trust
    )
    assert wrong.returncode == 2 and "not the contract's classes" in wrong.stderr
