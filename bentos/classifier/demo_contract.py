"""`make demo`'s bring-your-own-model step: any contract, end to end, with nothing but its file.

    python -m bentos.classifier.demo_contract --contract credit \\
        --pipeline pipelines/samples/credit/pipeline.yaml --workdir build/demo-credit

Trains on the contract's default data, runs its pipeline samples, serves the model with the
contract, sends a typical record, one with a category training never had, one with its optional
values missing and one with a value the contract forbids, and reports drift on the pipeline's
output. The cases come from the model card and the contract, so the script names no feature.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx

from bentos.classifier.demo import run_slipway, serving
from slipway.contract import Contract, load_contract


def cases(contract: Contract, card: dict[str, Any], typical: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    seen = card["ood"]["categories"]
    result = [("typical record", typical)]
    for feature in contract.inputs:
        unseen = [v for v in feature.values or () if v not in seen.get(feature.name, ())]
        if unseen:
            result.append((f"{feature.name}={unseen[0]} (never in training)", {**typical, feature.name: unseen[0]}))
            break
    optional = [f.name for f in contract.inputs if not f.required]
    if optional:
        result.append((f"{', '.join(optional)} missing", {k: v for k, v in typical.items() if k not in optional}))
    category = next((f for f in contract.inputs if f.type == "category"), None)
    if category is not None:
        result.append((f"{category.name}=nonsense (not allowed)", {**typical, category.name: "nonsense"}))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contract", required=True)
    parser.add_argument("--pipeline", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, default=Path("build/demo-contract"))
    args = parser.parse_args()
    contract = load_contract(args.contract)
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    env = {**os.environ, "SLIPWAY_HOME": str(workdir / "home"), "BENTOML_HOME": str(workdir / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "true", "SLIPWAY_CONTRACT": str(contract.source)}  # fmt: skip
    run_slipway(["keys", "generate"], env)
    trained = run_slipway(["train"], env)
    per_class = ", ".join(f"{c} {v['recall']:.2f}" for c, v in trained["metrics"]["per_class"].items())
    print(f"contract {contract.describe()}: {len(contract.inputs)} inputs, classes {'/'.join(contract.classes)}")
    print(f"  trained {trained['tag']}: accuracy {trained['metrics']['accuracy']:.3f}, recall {per_class}")
    pipeline = ["pipeline", "run", "--config", str(args.pipeline.resolve()), "--out", str(workdir / "pipeline")]
    totals = run_slipway(pipeline, env)["totals"]
    renamed = sum(len(change.get("renamed", {})) for change in totals["schema_changes"])
    print(f"  pipeline: in {totals['rows_in']} = out {totals['rows_out']} + quarantined {totals['quarantined']} "
          f"+ duplicates {totals['duplicates']}; {renamed} renamed column(s) matched")  # fmt: skip
    card = json.loads((next((workdir / "bentoml" / "models" / "classifier").glob("*/card.json"))).read_text())
    with serving({**env, "SLIPWAY_MODEL": trained["tag"]}, workdir / "server.log") as url:
        from bentos.classifier.smoke import smoke_records

        candidates = smoke_records(card, contract)  # around the training means
        answered = httpx.post(f"{url}/predict", json={"records": candidates}, timeout=30).json()["results"]
        calm = [i for i, r in enumerate(answered) if "high_stakes" not in r["reasons"]] or list(range(len(answered)))
        typical = candidates[max(calm, key=lambda i: answered[i]["confidence"])]
        for name, record in cases(contract, card, typical):
            response = httpx.post(f"{url}/predict", json={"record": record}, timeout=30)
            body = response.json()
            if response.status_code == 200:
                r = body["results"][0]
                reasons = ", ".join(r["reasons"]) or "-"
                outcome = f"{r['prediction']} p={r['confidence']:.2f} -> {r['decision']} ({reasons})"
            else:
                outcome = f"rejected: {body['errors'][0]['problem']} {body['errors'][0]['field']}"
            print(f"  {name:<44} {response.status_code}  {outcome}")
    drift = run_slipway(["drift", "report", str(workdir / "pipeline" / "data" / "records.parquet"),
                  "--out", str(workdir / "drift")], {**env, "SLIPWAY_MODEL": trained["tag"]})  # fmt: skip
    print(f"  drift report: {drift['rows']} rows, drifted: {', '.join(drift['drifted']) or 'none'}")


if __name__ == "__main__":
    main()
