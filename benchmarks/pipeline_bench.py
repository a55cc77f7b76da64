"""Benchmark `slipway pipeline run` on a generated CSV (~5 % dirty rows, ~2 % duplicates).

Measures the whole command (interpreter start included): rows per second end to end and peak
RSS; side by side, a bare `pyarrow.csv` read + Parquet write of the same file (the floor any
pipeline pays), and the ratio.

Usage:  uv run python benchmarks/pipeline_bench.py [--rows 1000000 10000000]   (the default; ~3 min, ~12 GB disk)
Targets on the 2-core reference machine: >= 250,000 rows/s at 1,000,000 rows; peak RSS <= 1 GB at
10,000,000 rows (streamed in chunks).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from slipway.contract import load_contract

CONTRACT = load_contract("wdbc")

BIN = Path(sys.executable).parent


def generate(path: Path, rows: int, seed: int = 1, chunk: int = 1_000_000) -> None:
    """Written in chunks of `chunk` rows, so that generating 10,000,000 rows needs little memory."""
    rng = np.random.default_rng(seed)
    unique = int(rows * 0.98)
    with path.open("wb") as out:
        for start in range(0, rows, chunk):
            size = min(chunk, rows - start)
            fresh = np.arange(int(start * 0.98), min(unique, int((start + size) * 0.98)))
            ids = np.concatenate([fresh, rng.integers(0, unique, size - len(fresh))])  # ~2 % repeat a key
            data: dict[str, object] = {"record_id": [f"r{i:09d}" for i in ids]}
            times = np.datetime64("2026-01-01T00:00:00") + rng.integers(0, 86400 * 30, size).astype("timedelta64[s]")
            data["event_time"] = np.datetime_as_string(times, unit="s")
            for feature in CONTRACT.features:
                low, high = feature.range or (0.0, 1.0)
                data[feature.name] = np.round(rng.uniform(low, high / 4, size), 4)
            frame = pl.DataFrame(data).with_columns(pl.col("event_time") + "Z")
            dirty = rng.random(size) < 0.05  # ~5 % of rows carry a value that cannot be coerced
            first = CONTRACT.features[0].name
            frame = frame.with_columns(
                pl.when(pl.Series(dirty)).then(pl.lit("n/a?")).otherwise(pl.col(first).cast(pl.String)).alias(first)
            )
            frame.write_csv(out, include_header=start == 0)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    wrapper = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL);"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, env=env, check=True)
    wall, rss, code = out.stdout.split()
    if int(code) not in (0, 3):
        raise SystemExit(f"{command[0]} exited {code}")
    return float(wall), float(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = parser.parse_args()
    print(f"{'rows':>10} {'tool':<16} {'wall s':>7} {'rows/s':>10} {'peak RSS MiB':>13}")
    for rows in args.rows:
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            source = work / "in" / "data.csv"
            source.parent.mkdir()
            generate(source, rows)
            home = work / "home"
            env = {**os.environ, "SLIPWAY_HOME": str(home)}
            subprocess.run([str(BIN / "slipway"), "keys", "generate"], env=env, check=True, capture_output=True)
            config = work / "pipeline.yaml"
            config.write_text(json.dumps({"sources": [{"name": "bench", "kind": "files", "path": "in"}]}))
            wall, rss = timed([str(BIN / "slipway"), "pipeline", "run", "--config", str(config),
                               "--out", str(work / "out")], env)  # fmt: skip
            report = json.loads((work / "out" / "reports" / "latest.json").read_text())["totals"]
            print(f"{rows:>10} {'slipway':<16} {wall:>7.2f} {rows / wall:>10.0f} {rss:>13.0f}")
            floor = (
                "import pyarrow.csv as c, pyarrow.parquet as q, sys;q.write_table(c.read_csv(sys.argv[1]), sys.argv[2])"
            )
            f_wall, f_rss = timed([sys.executable, "-c", floor, str(source), str(work / "bare.parquet")], env)
            print(f"{rows:>10} {'pyarrow bare':<16} {f_wall:>7.2f} {rows / f_wall:>10.0f} {f_rss:>13.0f}")
            print(f"{'':>10} ratio: slipway takes {wall / f_wall:.1f}x the bare read+write; "
                  f"in {report['rows_in']} = out {report['rows_out']} + quarantined {report['quarantined']}"
                  f" + duplicates {report['duplicates']}")  # fmt: skip
            if rows == 1_000_000:
                verdict = "met" if rows / wall >= 250_000 else "MISSED"
                print(f"{'':>10} target >= 250,000 rows/s at 1,000,000 rows: {verdict}")
            if rows == 10_000_000:
                verdict = "met" if rss * 2**20 <= 10**9 else "MISSED"
                print(f"{'':>10} target peak RSS <= 1 GB at 10,000,000 rows: {verdict}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
