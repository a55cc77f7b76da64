"""Benchmark `slipway render --stack prod`: whole-process wall time and peak RSS, plus the schema check.

Prints, for the whole command (interpreter start included), min / median / max wall seconds over
several runs and the peak RSS of the child; then the cost of schema-validating the rendered objects
with slipway's compiled-once catalog side by side with `kubernetes_validate.validate` called per
object (the library's own entry point, which loads and compiles the schema on every call).

Usage:  uv run python benchmarks/render_bench.py [--runs 5]
Target: whole render of the prod stack <= 5 s wall on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 5.0


def whole_render(runs: int) -> tuple[list[float], float]:
    slipway = str(Path(sys.executable).with_name("slipway"))
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [slipway, "render", "--stack", "prod", "--out", f"{scratch}/out{i}"],
                cwd=PROJECT,
                check=True,
                stdout=subprocess.DEVNULL,
                env={**os.environ, "BENTOML_DO_NOT_TRACK": "true"},
            )
            times.append(time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return times, peak_mib


def schema_side_by_side() -> tuple[int, float, float]:
    import kubernetes_validate

    from infra.render import render_stack
    from infra.schema import SchemaCatalog

    objects = [o.manifest for o in render_stack(PROJECT, "prod")]
    start = time.perf_counter()
    catalog = SchemaCatalog("1.33")
    for manifest in objects:
        assert not catalog.violations(manifest)
    ours = time.perf_counter() - start

    start = time.perf_counter()
    for manifest in objects:
        if manifest["apiVersion"].startswith("monitoring.coreos.com"):
            continue  # the library has no CRD schemas
        kubernetes_validate.validate(manifest, "1.33", strict=True)
    theirs = time.perf_counter() - start
    return len(objects), ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    times, peak = whole_render(args.runs)
    median = statistics.median(times)
    print(f"slipway render --stack prod, {args.runs} runs (whole process, interpreter start included)")
    print(f"  wall seconds: min {min(times):.2f}  median {median:.2f}  max {max(times):.2f}")
    print(f"  peak RSS: {peak:.0f} MiB")
    print(f"  target {TARGET_SECONDS:.1f} s: median is {median / TARGET_SECONDS:.2f}x the budget")

    count, ours, theirs = schema_side_by_side()
    print(f"schema validation of the {count} prod objects (in process)")
    print(f"  slipway SchemaCatalog (compiled once per kind): {ours * 1000:.0f} ms")
    print(f"  kubernetes_validate.validate per object:        {theirs * 1000:.0f} ms")
    print(f"  ratio: {theirs / ours:.1f}x faster")


if __name__ == "__main__":
    main()
