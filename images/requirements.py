"""The Python packages of the image: exactly what ``uv.lock`` pins, less the kit-only tools.

The image runs the model server and the jobs (pipeline, drift report, retraining). The Pulumi
program, the policy gate and the cluster tests never run inside it, so their packages — and
whatever only they need — are pruned from the locked graph (``uv export --prune``): about 350 MB
less, and every package that is installed has the version the lock pins.

Usage::

    runtime_packages()               # {"numpy": "2.3.1", ...} — what the image installs
    python -m images.requirements    # rewrite bentos/classifier/requirements.txt (the Bento's pins)
    python -m images.requirements --check
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from slipway.errors import UsageError
from slipway.generated import write_or_check

PROJECT_DIR = Path(__file__).resolve().parent.parent
KIT_ONLY = (
    "pulumi",
    "pulumi-kubernetes",
    "pulumi-policy",
    "kubernetes",
    "kubernetes-validate",
    "pytest-testinfra",
    "sarif-pydantic",
    "uv",
)
IMAGE_PYTHON = "3.11.2"  # Debian bookworm's python3, the default base
BENTO_REQUIREMENTS = PROJECT_DIR / "bentos" / "classifier" / "requirements.txt"
HEADER = (
    "# Generated from uv.lock by `python -m images.requirements` (checked by the tests): the packages\n"
    "# the model server and the jobs run with, pinned as the lock pins them. Do not edit.\n"
)


def uv_command() -> list[str]:
    """uv from the environment (a dependency of the project), so no uv on PATH is assumed."""
    return [sys.executable, "-m", "uv"]


def _export(*extra: str, project: Path = PROJECT_DIR) -> str:
    argv = [
        *uv_command(),
        "export",
        "--frozen",
        "--no-dev",
        "--no-emit-project",
        "--no-header",
        "--no-annotate",
        "--quiet",
        *extra,
    ]
    try:
        done = subprocess.run(argv, cwd=project, capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as exc:
        raise UsageError(f"uv export failed: {exc.stderr.strip() or exc}") from None
    return done.stdout


def _lines(text: str) -> list[str]:
    return [line.rstrip("\\").strip() for line in text.splitlines() if line and not line.startswith((" ", "#", "-"))]


def _pins(text: str) -> dict[str, str]:
    """name -> version for the image's Python (the lock forks some packages by Python version)."""
    from packaging.markers import Marker

    environment = {"python_version": IMAGE_PYTHON.rsplit(".", 1)[0], "python_full_version": IMAGE_PYTHON}
    pins = {}
    for line in _lines(text):
        requirement, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate(environment):
            continue
        name, _, version = requirement.partition("==")
        pins[name.strip().lower()] = version.strip()
    return pins


def _prune_args() -> list[str]:
    return [arg for name in KIT_ONLY for arg in ("--prune", name)]


def runtime_packages(project: Path = PROJECT_DIR) -> dict[str, str]:
    """name -> version of every package the image installs."""
    return _pins(_export("--no-hashes", *_prune_args(), project=project))


def kit_only_packages(project: Path = PROJECT_DIR) -> list[str]:
    """Locked packages the image leaves out (``uv sync --no-install-package`` each)."""
    everything = _pins(_export("--no-hashes", project=project))
    return sorted(set(everything) - set(runtime_packages(project)))


def bento_requirements(project: Path = PROJECT_DIR) -> str:
    """The runtime pins with their environment markers, as the lock has them (right on any Python)."""
    lines = _lines(_export("--no-hashes", *_prune_args(), project=project))
    return HEADER + "".join(f"{line}\n" for line in sorted(lines))


def main(argv: list[str]) -> int:
    return write_or_check(BENTO_REQUIREMENTS, bento_requirements(), "python -m images.requirements", argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
