"""The container engine the image commands drive: podman (default) or docker, as a subprocess.

podman is pointed at the project's ``images/containers.conf`` (runc, cgroupfs, no default
ulimits: what works on machines like the reference one) unless ``CONTAINERS_CONF`` is already
set. Nothing is ever pulled: every run and build says ``--pull=never``.

Usage::

    engine = Engine.find("podman")
    engine.run(["image", "exists", "localhost/slipway/base:bookworm"], check=False)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from slipway.errors import SlipwayError, UsageError

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
Backend = Literal["podman", "docker"]


class EngineError(SlipwayError):
    """The container engine refused or failed (its own message is included)."""


@dataclass(frozen=True)
class Engine:
    backend: Backend
    executable: str

    @classmethod
    def find(cls, backend: Backend = "podman") -> Engine:
        executable = shutil.which(backend)
        if executable is None:
            hint = "apt-get install podman runc" if backend == "podman" else "install Docker Engine"
            raise UsageError(f"{backend} is not installed ({hint}; `make system-tools` does it for podman)")
        return cls(backend, executable)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.backend == "podman":
            env.setdefault("CONTAINERS_CONF", str(CONTAINERS_CONF))
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        check: bool = True,
        capture: bool = True,
        stdin: Any = None,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(
                [self.executable, *args],
                env=self.env,
                capture_output=capture,
                text=True,
                stdin=stdin,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EngineError(f"{self.backend} {args[0]} did not finish within {timeout:.0f} s") from None
        if check and done.returncode != 0:
            lines = [line.strip() for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
            causes = [line for line in lines if line.lower().startswith(("error", "cause"))] or lines
            detail = " | ".join(causes[-3:]) if causes else f"exit {done.returncode}"
            raise EngineError(f"{self.backend} {' '.join(args[:1])} failed: {detail}")
        return done

    def find_image(self, ref: str) -> dict[str, Any] | None:
        """The image's inspect record, or None when it is not in local storage."""
        done = self.run(["image", "inspect", ref], check=False)
        if done.returncode != 0:
            return None
        found: list[dict[str, Any]] = json.loads(done.stdout)
        return found[0]

    def image_exists(self, ref: str) -> bool:
        return self.find_image(ref) is not None

    def inspect_image(self, ref: str) -> dict[str, Any]:
        info = self.find_image(ref)
        if info is None:
            raise UsageError(f"image {ref} is not in the local {self.backend} storage (run `slipway image build`)")
        return info

    def labels(self, ref: str) -> dict[str, str]:
        info = self.inspect_image(ref)
        config = info.get("Config") or {}
        return dict(config.get("Labels") or info.get("Labels") or {})
