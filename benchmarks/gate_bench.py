"""Benchmark `slipway gate` on generated Deployments (half compliant), side by side with Checkov 3.

For 1,000 and 10,000 Deployments (100 per file) this runs the whole `slipway gate` process
(interpreter start included) and reports wall seconds, peak RSS and microseconds per object (to
show linear growth); with --checkov it runs Checkov's Kubernetes framework on the same files from a
throw-away virtual environment (never a project dependency) and prints the ratio.

It then gates the same documents as **one file** each (the shape `helm template` and `kustomize
build` pipe in) and checks the growth: one file of 10,000 at most 1.1x the 100-file run and at most
11x one file of 1,000 (12x is the limit the issue allows for the growth check itself).

Usage:  uv run python benchmarks/gate_bench.py [--runs 3] [--checkov]
Targets on the 2-core reference machine: 1,000 objects <= 1 s, 10,000 <= 5 s, peak RSS <= 250 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

PER_FILE = 100
CHECKOV_VENV = Path(tempfile.gettempdir()) / "slipway-bench-checkov"


def deployment(index: int) -> dict[str, object]:
    compliant = index % 2 == 0
    name = f"svc-{index:05d}"
    container: dict[str, object] = {
        "name": "app",
        "image": f"registry.example/team/app@sha256:{index:064x}" if compliant else "nginx:latest",
        "ports": [{"containerPort": 8080}],
    }
    if compliant:
        container.update(
            resources={"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            livenessProbe={"httpGet": {"path": "/livez", "port": 8080}},
            readinessProbe={"httpGet": {"path": "/readyz", "port": 8080}},
            securityContext={
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        )
    else:
        container["securityContext"] = {"privileged": True}
    pod_spec: dict[str, object] = {"containers": [container]}
    if compliant:
        pod_spec.update(automountServiceAccountToken=False, securityContext={"runAsNonRoot": True})
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "apps" if compliant else "default", "labels": labels},
        "spec": {
            "replicas": 2 if compliant else 1,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def generate(directory: Path, count: int, per_file: int = PER_FILE) -> None:
    directory.mkdir(parents=True)
    for start in range(0, count, per_file):
        docs = [deployment(i) for i in range(start, min(start + per_file, count))]
        (directory / f"deployments-{start // per_file:04d}.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


def gate(slipway: str, target: Path, runs: int) -> tuple[float, float]:
    """Median wall seconds and peak RSS of `slipway gate --format json` on ``target``."""
    results = [timed([slipway, "gate", str(target), "--format", "json"]) for _ in range(runs)]
    assert all(code == 1 for _, _, code in results), "half the Deployments are non-compliant: exit 1 expected"
    return statistics.median(w for w, _, _ in results), max(r for _, r, _ in results)


def one_file(slipway: str, scratch: Path, sizes: list[int], split: dict[int, float], runs: int) -> None:
    """The same documents in one file each: the time must grow linearly, like the split files'."""
    single: dict[int, float] = {}
    for count in sizes:
        directory = scratch / f"one{count}"
        generate(directory, count, per_file=count)
        wall, rss = gate(slipway, next(directory.iterdir()), runs)
        single[count] = wall
        print(f"{count:>8} {'one file':<8} {wall:>16.2f} {rss:>13.0f} {wall / count * 1e6:>10.0f}")
    big, small = max(sizes), min(sizes)
    if big in split:
        print(f"{big:>8} ratio: one file takes {single[big] / split[big]:.2f}x the {big // PER_FILE}-file run "
              "(target <= 1.1x)")  # fmt: skip
    if big != small:
        growth = single[big] / single[small]
        print(f"growth: one file of {big} takes {growth:.1f}x one file of {small} "
              f"({big / small:.0f}x the documents; target <= {1.1 * big / small:.0f}x, the check allows "
              f"{1.2 * big / small:.0f}x)")  # fmt: skip
        if growth > 1.2 * big / small:
            raise SystemExit(f"gate_bench: one big file grows superlinearly ({growth:.1f}x)")


def timed(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds and peak RSS (MiB) of one whole process, measured by a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)"
    )
    out = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True).stdout
    wall, rss, code = out.split()
    return float(wall), float(rss), int(code)


def ensure_checkov() -> Path:
    checkov = CHECKOV_VENV / "bin" / "checkov"
    if not checkov.exists():
        uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
        subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(CHECKOV_VENV)], check=True)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(CHECKOV_VENV / "bin" / "python"), "checkov>=3,<4"], check=True
        )
    return checkov


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checkov", action="store_true", help="also run Checkov 3 (installed into a temp venv)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    slipway = str(Path(sys.executable).with_name("slipway"))
    checkov = ensure_checkov() if args.checkov else None
    print(f"{'objects':>8} {'tool':<8} {'wall s (median)':>16} {'peak RSS MiB':>13} {'µs/object':>10}")
    split: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for count in args.sizes:
            directory = Path(scratch) / f"d{count}"
            generate(directory, count)
            wall, rss = gate(slipway, directory, args.runs)
            split[count] = wall
            print(f"{count:>8} {'slipway':<8} {wall:>16.2f} {rss:>13.0f} {wall / count * 1e6:>10.0f}")
            if checkov is not None:
                command = [
                    str(checkov),
                    "-d",
                    str(directory),
                    "--framework",
                    "kubernetes",
                    "--quiet",
                    "--compact",
                    "-o",
                    "json",
                    "--skip-download",
                ]
                os.environ["BC_SKIP_MAPPING"] = "TRUE"
                c_wall, c_rss, _ = timed(command)
                print(f"{count:>8} {'checkov':<8} {c_wall:>16.2f} {c_rss:>13.0f} {c_wall / count * 1e6:>10.0f}")
                print(f"{count:>8} ratio: Checkov takes {c_wall / wall:.1f}x the wall time of slipway gate")
        one_file(slipway, Path(scratch), args.sizes, split, args.runs)


if __name__ == "__main__":
    main()
