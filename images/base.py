"""The default base image, built here from Debian's packages: there is no registry to pull from.

``mmdebstrap`` writes a minimal bookworm root filesystem (Python 3.11, CA certificates, time
zones; documentation and locales left out, licences kept) as a tarball, which ``podman import``
turns into an image. The tarball is cached under ``.cache/slipway/images/`` (git-ignored) and the
image in the engine's storage, both keyed by everything that goes into them, so a second build
costs nothing. An organisation's approved base replaces it with ``slipway image build --base``.

Usage::

    base = ensure_base(Engine.find())      # BaseImage(ref="localhost/slipway/base:bookworm-3f2a...", ...)
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from images.engine import Engine, EngineError
from slipway.errors import UsageError

SUITE = "bookworm"
PACKAGES = ("python3", "libstdc++6", "ca-certificates", "tzdata")
EXCLUDED_PATHS = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
KEPT_PATHS = ("/usr/share/doc/*/copyright",)  # licences stay: the SBOM and auditors need them
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
KEY_LABEL = "dev.slipway.base.key"


@dataclass(frozen=True)
class BaseImage:
    ref: str
    how: str  # "built" | "cached (image)" | "cached (tarball)"
    seconds: float


def cache_dir() -> Path:
    return Path(os.environ.get("SLIPWAY_CACHE", ".cache/slipway")) / "images"


def _mirror() -> str:
    """$SLIPWAY_DEBIAN_MIRROR, else this host's Debian sources (an organisation's mirror), else Debian's."""
    configured = os.environ.get("SLIPWAY_DEBIAN_MIRROR")
    if configured:
        return configured
    if HOST_SOURCES.is_file() and f"Suites: {SUITE}" in HOST_SOURCES.read_text(encoding="utf-8", errors="replace"):
        return str(HOST_SOURCES)
    return DEFAULT_MIRROR


def _mmdebstrap_args(mirror: str, out: Path) -> list[str]:
    dpkg = [f"--dpkgopt=path-exclude={p}" for p in EXCLUDED_PATHS] + [f"--dpkgopt=path-include={p}" for p in KEPT_PATHS]
    return [
        "mmdebstrap",
        "--quiet",
        "--variant=essential",
        f"--include={','.join(PACKAGES)}",
        *dpkg,
        "--format=tar",
        SUITE,
        str(out),
        mirror,
    ]


def base_key(mirror: str) -> str:
    """Everything that decides the base's content; a change makes a new image."""
    sources = Path(mirror).read_text(encoding="utf-8") if Path(mirror).is_file() else mirror
    material = "\n".join([SUITE, platform.machine(), *PACKAGES, *EXCLUDED_PATHS, *KEPT_PATHS, sources])
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def ensure_base(engine: Engine) -> BaseImage:
    started = time.monotonic()
    mirror = _mirror()
    key = base_key(mirror)
    ref = f"localhost/slipway/base:{SUITE}-{key}"
    if engine.image_exists(ref):
        return BaseImage(ref, "cached (image)", time.monotonic() - started)
    tarball = cache_dir() / f"base-{SUITE}-{key}.tar"
    how = "cached (tarball)"
    if not tarball.is_file():
        how = "built"
        _bootstrap(mirror, tarball)
    with tarball.open("rb") as handle:
        engine.run(
            ["import", "--change", f"LABEL {KEY_LABEL}={key}", "--change", 'CMD ["/bin/sh"]', "-", ref],
            stdin=handle,
            timeout=600,
        )
    return BaseImage(ref, how, time.monotonic() - started)


def _bootstrap(mirror: str, tarball: Path) -> None:
    if shutil.which("mmdebstrap") is None:
        raise UsageError("mmdebstrap is not installed (apt-get install mmdebstrap; `make system-tools` does it)")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial.tar")
    try:
        done = subprocess.run(_mmdebstrap_args(mirror, partial), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines()
            raise EngineError(f"mmdebstrap failed: {lines[-1] if lines else done.returncode}")
        partial.replace(tarball)
    finally:
        partial.unlink(missing_ok=True)
