"""Smoke records for a served model, derived from its card and contract alone (no data set, no
feature names in code): the training means (a typical case) and points along ±k standard
deviations, categories cycling through the values seen in training, so that across the batch each
class — the high-stakes ones included — is predicted at least once for any model whose classes
differ in the mean.

``python -m bentos.classifier.smoke`` prints them as JSON for the model of ``$SLIPWAY_BENTO`` (or
``$BENTOML_HOME``); ``slipway rehearse`` runs it inside the image and sends the batch to /predict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from slipway.contract import Contract, Value

STEPS = (0.0, -2.0, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 2.0)


def _number(contract: Contract, name: str, value: float) -> Value:
    feature = contract.by_name[name]
    if feature.range is not None:
        value = min(max(value, feature.range[0]), feature.range[1])
    if feature.type == "bool":
        return value >= 0.5
    return round(value) if feature.type == "int" else round(value, 6)


def smoke_records(card: dict[str, Any], contract: Contract) -> list[dict[str, Value]]:
    """Only records the data contract accepts: the smoke test is about serving, not validation."""
    ood = card["ood"]
    candidates: list[dict[str, Value]] = []
    for step, k in enumerate(STEPS):
        record: dict[str, Value] = {
            name: _number(contract, name, mean + k * std)
            for name, mean, std in zip(ood["numeric"], ood["mean"], ood["std"], strict=True)
        }
        for name, seen in ood["categories"].items():
            if seen:
                record[name] = seen[step % len(seen)]
        candidates.append(record)
    return [record for record in candidates if contract.validate_record(record)[0] is not None]


def main() -> int:
    from bentos.classifier.artifact import find_model, served_tag
    from bentos.classifier.settings import ServerSettings

    settings = ServerSettings()
    contract = settings.load_contract()
    model = find_model(served_tag(settings, contract), settings.bento)
    card = json.loads((Path(model.path) / "card.json").read_text(encoding="utf-8"))
    records = smoke_records(card, contract)
    json.dump({"records": records, "high_stakes": list(settings.high_stakes(contract))}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
