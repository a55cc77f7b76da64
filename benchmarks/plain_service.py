"""The baseline for benchmarks/serve_bench.py: a plain BentoML service with the same model.

Same payload shape and the same fitted estimator, but no input contract, routing, review queue,
drift or custom metrics: what a demo would ship.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bentoml
import joblib
import numpy as np
import polars as pl

from slipway.contract import load_contract

NAMES = load_contract(None).input_names


@bentoml.service(name="plain", workers=1, traffic={"timeout": 30, "max_concurrency": 256})
class Plain:
    def __init__(self) -> None:
        path = Path(bentoml.models.get(os.environ.get("SLIPWAY_MODEL", "classifier:latest")).path)
        self.model = joblib.load(path / "model.joblib")
        self.matrix = json.loads((path / "card.json").read_text(encoding="utf-8"))["input"] == "matrix"

    @bentoml.api(route="/predict")
    def predict(self, record: dict[str, Any]) -> dict[str, Any]:
        if self.matrix:  # what the model takes (its card says)
            features: Any = np.asarray([[record[name] for name in NAMES]], dtype=np.float64)
        else:
            features = pl.DataFrame({name: [record[name]] for name in NAMES})
        probabilities = self.model.predict_proba(features)[0]
        winner = int(np.argmax(probabilities))
        return {"prediction": str(self.model.classes_[winner]), "confidence": float(probabilities[winner])}
