"""The full model server against what users would pick instead, side by side in one run.

Peers, each serving the same fitted model (the kit's trained `classifier`), one worker each, each
in a cgroup with the same CPU limit (default one CPU; the load generator runs outside it):

- ``mlserver``: MLServer with its scikit-learn runtime (what KServe runs for scikit-learn) as it
  ships: no adaptive batching;
- ``mlserver+batch``: the same with its adaptive batching on (32 rows, 5 ms): the fair peer;
- ``plain``: a plain BentoML service calling ``predict_proba`` (benchmarks/plain_service.py);
- ``slipway``: the kit's full server (validation, routing, review writes, drift, estimates) with a
  caller token verified on every /predict.

MLServer runs from a throw-away environment in ``.cache/bench/mlserver`` (made with uv, not a
project dependency). Load: ``wrk`` (Debian's; a C load generator, so the client does not steal the
server's CPU) with one thread on loopback, at 16 and 64 connections, single-record requests and a
batch-of-32 variant, each after a short warm-up. Prints throughput, p50, p99, errors and the ratios.

Usage:  uv run python benchmarks/peers_bench.py [--duration 15] [--cpus 1] [--only slipway mlserver+batch]
Target: slipway >= 1.0x mlserver+batch's throughput at 16 and 64 connections with p99 <= 1.2x its p99
(stretch: >= 3x mlserver as it ships).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from benchmarks.servers import server_process

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MLSERVER_ENV = PROJECT / ".cache" / "bench" / "mlserver"
MLSERVER_VERSION = "1.7.1"
WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
BATCH = 32


@dataclass(frozen=True)
class Peer:
    name: str
    command: list[str]
    env: dict[str, str]
    path: str  # the prediction route
    ready: str  # the readiness route
    body: Callable[[list[list[float]]], dict[str, Any]]  # rows -> request body
    port: int
    auth: str = ""
    batches: bool = True  # takes a batch of records in one request


def _uv() -> str:
    found = shutil.which("uv") or str(PROJECT / ".tools" / "uv" / "bin" / "uv")
    if not Path(found).exists():
        raise SystemExit("uv is needed to make MLServer's throw-away environment (`make setup` installs it)")
    return found


def mlserver_environment() -> Path:
    """MLServer + mlserver-sklearn with this project's scikit-learn (the pickled model needs it)."""
    python = MLSERVER_ENV / "bin" / "python"
    wanted = [f"mlserver=={MLSERVER_VERSION}", f"mlserver-sklearn=={MLSERVER_VERSION}",
              f"scikit-learn=={version('scikit-learn')}", "uvloop<0.22"]  # fmt: skip
    # uvloop 0.22 made get_event_loop() raise without a running loop, which MLServer 1.7.1's workers call
    if not python.exists():
        subprocess.run([_uv(), "venv", "-q", "--python", "3.11", str(MLSERVER_ENV)], check=True)
    subprocess.run([_uv(), "pip", "install", "-q", "--python", str(python), *wanted], check=True)
    return MLSERVER_ENV / "bin" / "mlserver"


def mlserver_folder(work: Path, model_file: Path, name: str, *, batching: bool, ports: tuple[int, int, int]) -> Path:
    folder = work / name
    (folder / "classifier").mkdir(parents=True)
    http, grpc, metrics = ports
    (folder / "settings.json").write_text(json.dumps({
        "http_port": http, "grpc_port": grpc, "metrics_port": metrics, "host": "127.0.0.1",
        "parallel_workers": 1,  # as it ships: one inference worker beside the HTTP front end
    }))  # fmt: skip
    model: dict[str, Any] = {"name": "classifier", "implementation": "mlserver_sklearn.SKLearnModel",
                             "parameters": {"uri": str(model_file)}}  # fmt: skip
    if batching:
        model.update(max_batch_size=BATCH, max_batch_time=0.005)
    (folder / "classifier" / "model-settings.json").write_text(json.dumps(model))
    return folder


def _v2_body(rows: list[list[float]]) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": [len(rows), len(rows[0])], "datatype": "FP64",
                        "data": [v for row in rows for v in row]}],
            "outputs": [{"name": "predict_proba"}]}  # fmt: skip


def _free_port() -> int:
    from slipway.processes import free_port

    return free_port()


@contextlib.contextmanager
def cpu_limited(name: str, cpus: float) -> Iterator[Path]:
    """A cgroup with a CFS quota of ``cpus`` CPUs; yields its directory."""
    from runbooks.drills.cpu import CpuLimit

    limit = CpuLimit.create(f"bench-{name}")
    limit.set(cpus)
    try:
        yield limit.directory
    finally:
        limit.remove()


@contextlib.contextmanager
def serving(peer: Peer, cpus: float, log: Path) -> Iterator[tuple[str, Path]]:
    """The peer serving on loopback inside its CPU limit: its URL and its cgroup."""
    url = f"http://127.0.0.1:{peer.port}"
    with cpu_limited(peer.name.replace("+", "-"), cpus) as group:
        # the shell joins the cgroup first, so the server and every worker it starts are inside it
        command = ["sh", "-c", f'echo $$ > {group / "cgroup.procs"} && exec "$@"', "serve", *peer.command]
        with server_process(command, peer.env, log, url + peer.ready, name=peer.name, timeout=180):
            yield url, group


def cpu_seconds(group: Path) -> float:
    """CPU time (user + system) the processes in the cgroup used so far, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in (group / "cgroup.procs").read_text().split():
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def wrk(url: str, peer: Peer, bodies: Path, connections: int, duration: float, group: Path) -> dict[str, float]:
    env = {**os.environ, "BENCH_BODIES": str(bodies), "BENCH_AUTH": peer.auth}
    used = cpu_seconds(group)
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:.0f}s", "--timeout", "30s", "-s", str(WRK_SCRIPT),
         url + peer.path],
        env=env, capture_output=True, text=True, check=True, timeout=duration + 60,
    )  # fmt: skip
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["throughput"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["cpu"] = (cpu_seconds(group) - used) / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return figures


def _check_answer(url: str, peer: Peer, rows: list[list[float]]) -> None:
    """One request answered 200 with a probability per class: the peer serves the model."""
    headers = {"Authorization": peer.auth} if peer.auth else {}
    response = httpx.post(url + peer.path, json=peer.body(rows[:1]), headers=headers, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"{peer.name} answered {response.status_code}: {response.text[:300]}")


def peers(work: Path, env: dict[str, str], model_file: Path, names: list[str], caller: str) -> list[Peer]:
    from slipway.contract import load_contract

    features = load_contract(None).input_names
    mlserver = str(mlserver_environment()) if any(n.startswith("mlserver") for n in names) else "mlserver"

    def record(rows: list[list[float]]) -> dict[str, Any]:
        return {"record": dict(zip(features, rows[0], strict=True))}

    def slipway_body(rows: list[list[float]]) -> dict[str, Any]:
        if len(rows) == 1:
            return record(rows)
        return {"records": [dict(zip(features, r, strict=True)) for r in rows]}

    bentoml = [str(BIN / "bentoml"), "serve", "--host", "127.0.0.1"]
    found = []
    for name in names:
        if name.startswith("mlserver"):
            ports = (_free_port(), _free_port(), _free_port())
            folder = mlserver_folder(work, model_file, name.replace("+", "-"), batching=name == "mlserver+batch",
                                     ports=ports)  # fmt: skip
            found.append(Peer(name, [mlserver, "start", str(folder)], dict(os.environ),
                              "/v2/models/classifier/infer", "/v2/health/ready", _v2_body, ports[0]))  # fmt: skip
        elif name == "plain":
            port = _free_port()
            found.append(Peer(name, [*bentoml, "benchmarks.plain_service:Plain", "--port", str(port)], env,
                              "/predict", "/readyz", record, port, batches=False))  # fmt: skip
        elif name == "slipway":
            port = _free_port()
            found.append(Peer(name, [*bentoml, "bentos.classifier.service:Classifier", "--port", str(port)],
                              {**env, "SLIPWAY_AUTH_PREDICT": "true"}, "/predict", "/readyz", slipway_body, port,
                              auth=caller))  # fmt: skip
        else:
            raise SystemExit(f"unknown peer {name!r}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per measured run")
    parser.add_argument("--cpus", type=float, default=1.0, help="the CPU limit of every server")
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--only", nargs="+", default=["mlserver", "mlserver+batch", "plain", "slipway"])
    parser.add_argument("--no-batch", action="store_true", help="skip the batch-of-32 requests")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (`make system-tools` does it)")
    from sklearn.datasets import load_breast_cancer

    rows = load_breast_cancer().data.tolist()
    work = Path(tempfile.mkdtemp(prefix="slipway-peers-bench-"))
    env = {**os.environ, "SLIPWAY_HOME": str(work / "home"), "BENTOML_HOME": str(work / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "true", "PYTHONPATH": str(PROJECT)}  # fmt: skip
    results: dict[tuple[str, str, int], dict[str, float]] = {}
    try:
        subprocess.run([str(BIN / "slipway"), "keys", "generate"], env=env, check=True, capture_output=True)
        subprocess.run([str(BIN / "slipway"), "train"], env=env, check=True, capture_output=True)
        model_file = next((work / "bentoml" / "models" / "classifier").glob("*/model.joblib"))
        from slipway.identity.dev_issuer import DevIssuer

        issuer = DevIssuer(work / "home" / "auth")
        with issuer.serving():
            caller = "Bearer " + issuer.mint("svc.bench", ["caller"], ttl=7200)
            for peer in peers(work, env, model_file, args.only, caller):
                shapes = [("1 row", 1)] + ([] if args.no_batch or not peer.batches else [(f"{BATCH} rows", BATCH)])
                with serving(peer, args.cpus, work / f"{peer.name}.log") as (url, group):
                    _check_answer(url, peer, rows)
                    for shape, size in shapes:
                        bodies = work / f"{peer.name}-{size}.jsonl"
                        with bodies.open("w") as out:
                            for start in range(0, len(rows) - size + 1, max(1, size // 4)):
                                out.write(json.dumps(peer.body(rows[start : start + size])) + "\n")
                        wrk(url, peer, bodies, max(args.connections), 3, group)  # warm-up, not measured
                        for connections in args.connections:
                            results[(peer.name, shape, connections)] = wrk(url, peer, bodies, connections,
                                                                           args.duration, group)  # fmt: skip
    finally:
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    report(results, args)


def report(results: dict[tuple[str, str, int], dict[str, float]], args: argparse.Namespace) -> None:
    print(f"{args.duration:.0f} s per run, one worker each, CPU limit {args.cpus:g} per server, wrk -t1 on loopback")
    print(f"{'server':<15} {'request':<8} {'conns':>5} {'req/s':>8} {'rows/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'CPU':>5}")  # fmt: skip
    for (name, shape, connections), r in results.items():
        size = int(shape.split()[0])
        p50, p99 = r["p50_us"] / 1000, r["p99_us"] / 1000
        print(f"{name:<15} {shape:<8} {connections:>5} {r['throughput']:>8.1f} {r['throughput'] * size:>9.0f} "
              f"{p50:>8.1f} {p99:>8.1f} {int(r['errors']):>6} {r['cpu']:>5.2f}")  # fmt: skip
    for shape in sorted({s for _, s, _ in results}):
        for connections in args.connections:
            ours = results.get(("slipway", shape, connections))
            if ours is None:
                continue
            for peer in ("mlserver+batch", "mlserver", "plain"):
                theirs = results.get((peer, shape, connections))
                if theirs is None:
                    continue
                print(f"{shape}, {connections} connections: slipway {ours['throughput'] / theirs['throughput']:.2f}x "
                      f"the throughput of {peer}, p99 {ours['p99_us'] / max(theirs['p99_us'], 1):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
