"""Smoke records for a served model, derived from its card alone (no data set, no feature names
in code): the training means (a typical case) and points along ±k standard deviations, so that
across the batch each label — the high-stakes one included — is predicted at least once for any
model whose classes differ in the mean.

``python -m bentos.classifier.smoke`` prints them as JSON for the model of ``$SLIPWAY_BENTO`` (or
``$BENTOML_HOME``); ``slipway rehearse`` runs it inside the image and sends the batch to /predict.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

STEPS = (0.0, -2.0, -1.0, -0.5, -0.25, 0.25, 0.5, 1.0, 2.0)


def smoke_records(card: dict[str, Any]) -> list[dict[str, float]]:
    """Only records the data contract accepts: the smoke test is about serving, not validation."""
    from slipway.contract import validate_record

    names = list(card["features"])
    mean, std = card["ood"]["mean"], card["ood"]["std"]
    candidates = [{n: round(m + k * s, 6) for n, m, s in zip(names, mean, std, strict=True)} for k in STEPS]
    return [record for record in candidates if validate_record(record)[0] is not None]


def main() -> int:
    from bentos.classifier.artifact import find_model
    from bentos.classifier.settings import ServerSettings

    settings = ServerSettings()
    model = find_model(settings.model, settings.bento)
    card = json.loads((Path(model.path) / "card.json").read_text(encoding="utf-8"))
    json.dump({"records": smoke_records(card), "high_stakes": list(settings.high_stakes_labels)}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
