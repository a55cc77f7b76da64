"""How well the server's estimated accuracy (no labels) meets the realized accuracy, and what it costs.

For each seed: a breast-cancer model is trained with its own frozen evaluation set (records it never
learnt from), the model server's runtime answers that set, and the accuracy its counters estimate
(with the standard error they give) is set against the accuracy its answers really have. Then the
cost of the estimate on the request path: microseconds per one-record request for the counters.

Peer: NannyML's CBPE computes the same estimate in batch over a DataFrame; it is not in the lock
(a heavy dependency tree with usage telemetry), so no side-by-side run here — the figure that
matters is agreement within the stated error, printed per seed with the coverage of the 2-SE band.

Usage:  uv run python benchmarks/estimate_bench.py [--seeds 7 1 2 3 4]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _value(registry: Any, name: str) -> float:
    found = registry.get_sample_value(name, {"scope": "all"})
    assert found is not None
    return float(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 1, 2, 3, 4])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="slipway-estimate-bench-"))
    os.environ.update(SLIPWAY_HOME=str(root / "home"), BENTOML_HOME=str(root / "bentoml"),
                      BENTOML_DO_NOT_TRACK="true", SLIPWAY_AUDIT_SAMPLE_RATE="0")  # fmt: skip
    from prometheus_client import CollectorRegistry

    from bentos.classifier.estimates import PerformanceEstimate
    from bentos.classifier.metrics import ServiceMetrics
    from bentos.classifier.runtime import ModelRuntime
    from bentos.classifier.settings import ServerSettings
    from lifecycle.frozen import open_frozen
    from lifecycle.train import train
    from slipway.contract import load_contract
    from slipway.signing import KeyStore

    contract = load_contract("wdbc")
    keys = KeyStore.default()
    keys.generate()
    print(f"{'seed':>4} {'rows':>5} {'estimated':>10} {'± SE':>7} {'realized':>9} {'|diff|/SE':>10}")
    inside = 0
    for seed in args.seeds:
        evaluation = root / f"evaluation-{seed}"
        result = train(keys, contract, seed=seed, evaluation=evaluation)
        frozen = open_frozen(evaluation, contract)
        assert frozen is not None
        os.environ["SLIPWAY_MODEL"] = result.tag
        registry = CollectorRegistry()
        runtime = ModelRuntime.start(ServerSettings(), registry, contract)
        _, answer = runtime.predict({"records": frozen.frame.to_dicts()}, f"bench-{seed}")
        realized = float(np.mean([r["prediction"] == t for r, t in zip(answer["results"], frozen.labels, strict=True)]))

        rows = _value(registry, "slipway_estimated_records_total")
        estimated = _value(registry, "slipway_estimated_correct_total") / rows
        error = math.sqrt(_value(registry, "slipway_estimated_correct_variance_total")) / rows
        inside += abs(estimated - realized) <= 2 * error
        print(f"{seed:>4} {rows:>5.0f} {estimated:>10.3f} {error:>7.3f} {realized:>9.3f} "
              f"{abs(estimated - realized) / error:>10.2f}")  # fmt: skip
    print(f"within 2 SE: {inside} of {len(args.seeds)} seeds")

    estimate = PerformanceEstimate(ServiceMetrics(CollectorRegistry(), classes=contract.classes), contract.classes)
    one = np.array([[0.93, 0.07]])
    auto = np.array([True])
    count = 20_000
    start = time.perf_counter()
    for _ in range(count):
        estimate.observe(one, auto=auto)
    per_request = (time.perf_counter() - start) / count * 1e6
    print(f"estimate counters on the request path: {per_request:.1f} µs per one-record request "
          f"(in-process registry; multiprocess mode writes the same increments to mmap files)")  # fmt: skip


if __name__ == "__main__":
    main()
