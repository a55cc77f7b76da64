"""Benchmark the image and the rehearsal: base bootstrap cold and cached, image build with a new
model and with nothing changed, image size, and the rehearsal time per workload of the dev stack.

Peer: `bentoml containerize` cannot build here at all (its Dockerfile pulls a base image from a
registry and installs `build-essential` and the packages from an index), so the side-by-side
figure is what the kit saves by itself: cached vs cold, and the image against the bare base.

Usage:  uv run python benchmarks/image_bench.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from images.base import _bootstrap, _mirror, ensure_base
from images.engine import Engine

PROJECT = Path(__file__).resolve().parents[1]
SLIPWAY = str(Path(sys.executable).with_name("slipway"))


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([SLIPWAY, *args], env=env, cwd=PROJECT, capture_output=True, text=True, check=False)
    if done.returncode not in (0,):
        raise SystemExit(f"slipway {' '.join(args)} failed: {done.stderr[-1500:]}")
    return done


def base_cold(engine: Engine, scratch: Path) -> float:
    """mmdebstrap + podman import into a throw-away tag (the cached base is left alone)."""
    started = time.perf_counter()
    tarball = scratch / "base.tar"
    _bootstrap(_mirror(), tarball)
    with tarball.open("rb") as handle:
        engine.run(["import", "-", "localhost/slipway/base-bench:cold"], stdin=handle, timeout=600)
    took = time.perf_counter() - started
    engine.run(["rmi", "--force", "localhost/slipway/base-bench:cold"], check=False)
    return took


def main() -> None:
    engine = Engine.find("podman")
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        env = {**os.environ, "SLIPWAY_HOME": str(scratch / "home"), "BENTOML_HOME": str(scratch / "bentoml")}
        cold = base_cold(engine, scratch)
        cached = ensure_base(engine)
        ensure_base(engine)
        again = ensure_base(engine)
        _run("keys", "generate", env=env)
        _run("train", env=env)
        started = time.perf_counter()
        _run("image", "build", "--tag", "bench", "--no-cache", env=env)
        every_layer = time.perf_counter() - started
        _run("train", "--seed", "8", env=env)  # a new model: only the Bento layer changes
        started = time.perf_counter()
        built = json.loads(_run("image", "build", "--tag", "bench", env=env).stderr.strip().splitlines()[-1])
        new_model = time.perf_counter() - started
        started = time.perf_counter()
        unchanged = json.loads(_run("image", "build", "--tag", "bench", env=env).stderr.strip().splitlines()[-1])
        nothing = time.perf_counter() - started
        base_size = int(engine.inspect_image(cached.ref).get("Size") or 0) / 1e6
        started = time.perf_counter()
        rehearsal = subprocess.run(
            [SLIPWAY, "rehearse", "--stack", "dev", "--image", built["reference"], "--format", "json",
             "--out", str(scratch / "manifests")],
            cwd=PROJECT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        rehearsal_total = time.perf_counter() - started
        report = json.loads(rehearsal.stdout)
        engine.run(["rmi", "--force", built["image"]], check=False)
    print(f"base image bootstrap (mmdebstrap | podman import), cold : {cold:6.1f} s")
    print(f"base image, cached (podman storage)                    : {again.seconds:6.2f} s  ({cached.how})")
    print(f"image build, every layer (--no-cache, base cached)     : {every_layer:6.1f} s  (whole command)")
    print(f"image build, new model (locked layer cached)           : {new_model:6.1f} s  (whole command)")
    print(f"image build, nothing changed (same image reused)       : {nothing:6.1f} s  cached={unchanged['cached']}")
    print(f"image size                                             : {built['size_mb']:6.0f} MB")
    print(f"bare Debian base                                        : {base_size:6.0f} MB")
    for w in report["workloads"]:
        ready = f", ready after {w['ready_after_seconds']} s" if w["ready_after_seconds"] is not None else ""
        print(f"rehearsal {w['workload']:<24} {'ok ' if w['ok'] else 'FAIL'}      : {w['seconds']:6.1f} s{ready}")
    print(f"rehearsal, whole command (render included)             : {rehearsal_total:6.1f} s")
    print(f"ratio: base cold / cached {cold / max(again.seconds, 0.001):.0f}x; "
          f"build every layer / new model / unchanged {every_layer / max(nothing, 0.001):.1f}x / "
          f"{new_model / max(nothing, 0.001):.1f}x / 1x; "
          f"image / bare base {built['size_mb'] / base_size:.1f}x")  # fmt: skip
    if rehearsal.returncode != 0:
        raise SystemExit("the rehearsal failed")


if __name__ == "__main__":
    main()
