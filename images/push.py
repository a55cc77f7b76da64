"""Push a built image and return the digest **the registry** reports (the local one differs:
the registry stores a recompressed manifest). That digest is the one a stack must pin.

Usage::

    reference = push(engine, "localhost/slipway/classifier:abc", "registry.example.internal:5000")
"""

from __future__ import annotations

import ipaddress
import re
import tempfile
from pathlib import Path

from images.engine import Engine, EngineError

DOCKER_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def is_loopback(registry: str) -> bool:
    """Loopback registries are plain HTTP by convention (as Docker treats 127.0.0.0/8)."""
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def push(engine: Engine, name: str, registry: str, repository: str, *, tls_verify: bool | None = None) -> str:
    tag = name.rsplit(":", 1)[1]
    target = f"{registry}/{repository}:{tag}"
    engine.run(["tag", name, target])
    verify = not is_loopback(registry) if tls_verify is None else tls_verify
    if engine.backend == "docker":
        done = engine.run(["push", target], timeout=1800)
        found = DOCKER_DIGEST.search(done.stdout)
        if found is None:
            raise EngineError(f"docker push {target} printed no digest")
        digest = found[1]
    else:
        with tempfile.TemporaryDirectory() as scratch:
            digestfile = Path(scratch) / "digest"
            engine.run(
                ["push", f"--tls-verify={str(verify).lower()}", "--digestfile", str(digestfile), target], timeout=1800
            )
            digest = digestfile.read_text(encoding="ascii").strip()
    return f"{registry}/{repository}@{digest}"
