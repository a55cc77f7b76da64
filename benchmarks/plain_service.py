"""The baseline for benchmarks/serve_bench.py: a plain BentoML service with the same model.

Same payload shape and the same fitted estimator, but no input contract, routing, review queue,
drift or custom metrics: what a demo would ship.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import bentoml
import joblib
import numpy as np

from slipway.contract import FEATURE_NAMES


@bentoml.service(name="plain", workers=1, traffic={"timeout": 30, "max_concurrency": 256})
class Plain:
    def __init__(self) -> None:
        path = Path(bentoml.models.get(os.environ.get("SLIPWAY_MODEL", "classifier:latest")).path)
        self.model = joblib.load(path / "model.joblib")

    @bentoml.api(route="/predict")
    def predict(self, record: dict[str, Any]) -> dict[str, Any]:
        row = np.asarray([[record[name] for name in FEATURE_NAMES]], dtype=np.float64)
        probability = float(self.model.predict_proba(row)[0, 1])
        return {"prediction": "malignant" if probability >= 0.5 else "benign", "probability": probability}
