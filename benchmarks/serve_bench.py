"""Benchmark the model server against a plain BentoML service with the same model, same run.

Both run as real `bentoml serve` processes (one worker) on 127.0.0.1, one after the other; a
bounded asyncio load generator (fixed duration and concurrency, loopback only) posts single-record
requests drawn from the dataset. Reports throughput and p50/p99 latency for each, and the ratios.

Usage:  uv run python benchmarks/serve_bench.py [--duration 30] [--concurrency 16 32]
Target: ours >= 0.9x the plain service's throughput with p99 <= 1.2x. A third run ("+auth") requires
a caller token on every /predict (SLIPWAY_AUTH_PREDICT), verified against the local issuer's JWKS; a
fourth ("+auth+pg") also writes routed cases to a real PostgreSQL review store (Debian's binaries).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from benchmarks.servers import server_process

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(target: str, env: dict[str, str], log: Path) -> Iterator[str]:
    url = f"http://127.0.0.1:{_free_port()}"
    command = [str(BIN / "bentoml"), "serve", target, "--host", "127.0.0.1", "--port", url.rsplit(":", 1)[1]]
    with server_process(command, env, log, f"{url}/readyz", name=target):
        yield url


async def load(
    url: str, records: list[dict[str, float]], concurrency: int, duration: float, headers: dict[str, str]
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration

    async def worker(offset: int, client: httpx.AsyncClient) -> None:
        nonlocal errors
        index = offset
        while time.perf_counter() < stop:
            started = time.perf_counter()
            response = await client.post(f"{url}/predict", json={"record": records[index % len(records)]},
                                         headers=headers)  # fmt: skip
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200
            index += concurrency

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # warm-up, not measured
        await asyncio.gather(
            *(client.post(f"{url}/predict", json={"record": records[i]}, headers=headers) for i in range(32))
        )
        began = time.perf_counter()
        await asyncio.gather(*(worker(i, client) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": errors,
        "throughput": len(latencies) / elapsed,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--no-postgres", action="store_true", help="skip the run on a real PostgreSQL review store")
    args = parser.parse_args()
    from sklearn.datasets import load_breast_cancer

    from slipway.contract import load_contract

    names = load_contract("wdbc").input_names
    records = [dict(zip(names, row.tolist(), strict=True)) for row in load_breast_cancer().data]
    work = Path(tempfile.mkdtemp(prefix="slipway-serve-bench-"))
    env = {**os.environ, "SLIPWAY_HOME": str(work / "home"), "BENTOML_HOME": str(work / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "true", "PYTHONPATH": str(PROJECT)}  # fmt: skip
    subprocess.run([str(BIN / "slipway"), "keys", "generate"], env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "slipway"), "train"], env=env, check=True, capture_output=True)
    from slipway.identity.dev_issuer import DevIssuer

    results: dict[tuple[str, int], dict[str, float]] = {}
    issuer = DevIssuer(work / "home" / "auth")
    try:
        with issuer.serving(), contextlib.ExitStack() as stack:
            caller = {"Authorization": "Bearer " + issuer.mint("svc.bench", ["caller"], ttl=7200)}
            auth = {"SLIPWAY_AUTH_PREDICT": "true"}
            runs: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
                ("plain", "benchmarks.plain_service:Plain", {}, {}),
                ("slipway", "bentos.classifier.service:Classifier", {}, {}),
                # every /predict carries a caller token, verified against the issuer's JWKS (ES256)
                ("+auth", "bentos.classifier.service:Classifier", auth, caller),
            ]
            if not args.no_postgres:
                from tests.postgres import postgres_server  # the real PostgreSQL the tests start

                dsn = stack.enter_context(postgres_server())
                shared = {**auth, "SLIPWAY_REVIEW_QUEUE": dsn, "SLIPWAY_SERVER_REPLICAS": "2"}
                runs.append(("+auth+pg", "bentos.classifier.service:Classifier", shared, caller))
            for name, target, extra, headers in runs:
                with serve(target, {**env, **extra}, work / f"{name}.log") as url:
                    for concurrency in args.concurrency:
                        run = asyncio.run(load(url, records, concurrency, args.duration, headers))
                        results[(name, concurrency)] = run
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.duration:.0f} s per run, single-record requests, one worker, loopback")
    print(f"{'service':<8} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for (name, concurrency), r in results.items():
        print(f"{name:<8} {concurrency:>4} {r['throughput']:>8.1f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
              f"{int(r['errors']):>7}")  # fmt: skip
    for concurrency in args.concurrency:
        plain = results[("plain", concurrency)]
        for name in ("slipway", "+auth", "+auth+pg"):
            if (name, concurrency) not in results:
                continue
            ours = results[(name, concurrency)]
            print(f"concurrency {concurrency}, {name}: throughput {ours['throughput'] / plain['throughput']:.2f}x, "
                  f"p99 {ours['p99_ms'] / plain['p99_ms']:.2f}x of the plain service")  # fmt: skip


if __name__ == "__main__":
    main()
