"""``slipway image build``: the model-server OCI image, from the Bento and the locked environment.

Why a Containerfile of our own rather than ``bentoml containerize``: BentoML's generated Dockerfile
always installs ``build-essential git …`` (a 539 MB layer) and resolves packages against an index
at build time, so it cannot build offline and does not run what ``uv.lock`` pins. Ours installs
exactly the lock's runtime packages with uv from the host's cache (no compiler, no network when the
cache is warm), then adds the slipway wheel and the exported Bento — three layers, the big one
reused while the lock is unchanged.

Usage::

    built = build_image(BuildRequest(tag="dev"), engine=Engine.find())
    built.reference      # "localhost/slipway/classifier@sha256:..."
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from images.base import ensure_base
from images.engine import Engine
from images.requirements import kit_only_packages, uv_command
from slipway.errors import UsageError

CONTAINERFILE = Path(__file__).with_name("Containerfile")
REPOSITORY = "slipway/classifier"
LABEL_PREFIX = "dev.slipway.model"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
RUN_AS = 10001


@dataclass(frozen=True)
class BuildRequest:
    tag: str | None = None
    base: str | None = None
    project_dir: Path = field(default_factory=Path.cwd)
    model: str = "classifier:latest"
    no_cache: bool = False
    contract: str | None = None  # a contract file; default: the embedded contract the model was made for


@dataclass(frozen=True)
class ModelFacts:
    tag: str
    digest: str
    signature: str
    public_key_pem: str
    contract_file: Path | None = None  # the data contract the model was made for (the image serves it)

    def labels(self) -> dict[str, str]:
        return {
            f"{LABEL_PREFIX}.tag": self.tag,
            f"{LABEL_PREFIX}.digest": self.digest,
            f"{LABEL_PREFIX}.signature": self.signature,
            # base64: label values with newlines are mangled by buildah's LABEL handling
            f"{LABEL_PREFIX}.public-key-pem-base64": base64.b64encode(self.public_key_pem.encode()).decode(),
        }

    @classmethod
    def from_labels(cls, labels: dict[str, str]) -> ModelFacts:
        try:
            return cls(
                labels[f"{LABEL_PREFIX}.tag"],
                labels[f"{LABEL_PREFIX}.digest"],
                labels[f"{LABEL_PREFIX}.signature"],
                base64.b64decode(labels[f"{LABEL_PREFIX}.public-key-pem-base64"]).decode(),
            )
        except KeyError as exc:
            raise UsageError(f"the image carries no {exc.args[0]} label: build it with `slipway image build`") from None


@dataclass(frozen=True)
class BuiltImage:
    name: str  # repository:tag
    reference: str  # repository@sha256:...
    image_id: str
    size_bytes: int
    model: ModelFacts
    base: str
    base_how: str
    base_seconds: float
    build_seconds: float
    cached: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "image": self.name,
            "reference": self.reference,
            "id": self.image_id,
            "size_mb": round(self.size_bytes / 1e6, 1),
            "base": {"ref": self.base, "how": self.base_how, "seconds": round(self.base_seconds, 1)},
            "build_seconds": round(self.build_seconds, 1),
            "cached": self.cached,
            "model": {"tag": self.model.tag, "digest": self.model.digest},
        }


def verified_model(tag: str, contract: str | None = None) -> ModelFacts:
    """The model as the server will see it: verified against the configured public key first, with
    the data contract it was made for (the image serves exactly that contract)."""
    from bentos.classifier.artifact import ArtifactRejected, load_verified
    from slipway.signing import KeyStore

    keys = KeyStore.default()
    try:
        model = load_verified(tag, public_key=keys.public_key_path)
    except ArtifactRejected as exc:
        raise UsageError(f"will not package an unverifiable model: {exc}") from None
    contract_file = model_contract(model.card, contract)
    return ModelFacts(model.tag, model.digest, model.signature, keys.public_pem(), contract_file)


def model_contract(card: dict[str, Any], reference: str | None) -> Path:
    """The contract file whose digest the model's card records: ``reference``, else an embedded one."""
    from slipway.contract import CONTRACTS, contract_path, load_contract

    recorded = card.get("contract") or {}
    candidates = [contract_path(reference)] if reference is not None else sorted(CONTRACTS.glob("*.yaml"))
    for path in candidates:
        contract = load_contract(path)
        if contract.digest == recorded.get("digest") and contract.source is not None:
            return contract.source
    where = reference or "the embedded contracts"
    raise UsageError(
        f"the model was made for contract {recorded.get('name')} v{recorded.get('version')} "
        f"({str(recorded.get('digest'))[:19]}…), which is not {where}: pass --contract FILE with that contract"
    )


def _project(project_dir: Path) -> Path:
    for candidate in (project_dir, *project_dir.parents):
        if (candidate / "uv.lock").is_file() and (candidate / "bentos" / "classifier" / "bentofile.yaml").is_file():
            return candidate
    raise UsageError(f"no slipway checkout (uv.lock, bentos/classifier/bentofile.yaml) at or above {project_dir}")


def _bento(project: Path, model_tag: str, into: Path) -> None:
    """Build the Bento with exactly this model and copy it into the context."""
    import bentoml

    bentofile = yaml.safe_load((project / "bentos/classifier/bentofile.yaml").read_text(encoding="utf-8"))
    bentofile["models"] = [{"tag": model_tag}]
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bentofile.yaml"
        path.write_text(yaml.safe_dump(bentofile), encoding="utf-8")
        bento = bentoml.bentos.build_bentofile(str(path), build_ctx=str(project))
    shutil.copytree(bento.path, into, ignore=shutil.ignore_patterns("__pycache__"))
    # as `bentoml export` does: the Bento carries its own model store (served from it, read-only)
    bentoml.models.BentoModel(model_tag).resolve(into / "models")


def _wheel(project: Path, into: Path) -> None:
    into.mkdir(parents=True)
    done = subprocess.run(
        [*uv_command(), "build", "--wheel", "--quiet", "--out-dir", str(into), str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise UsageError(f"cannot build the slipway wheel: {lines[-1] if lines else f'exit {done.returncode}'}")


def stage_context(project: Path, model: ModelFacts, context: Path) -> None:
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    shutil.copy2(CONTAINERFILE, context / "Containerfile")
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(project / name, context / name)
    tools = context / "tools"
    tools.mkdir()
    import uv

    shutil.copy2(uv.find_uv_bin(), tools / "uv")
    if HOST_CA_BUNDLE.is_file():
        shutil.copy2(HOST_CA_BUNDLE, tools / "ca.crt")  # bind-mounted into RUN steps only, never copied in
    _wheel(project, context / "wheels")
    _bento(project, model.tag, context / "bento")
    if model.contract_file is not None:
        shutil.copy2(model.contract_file, context / "bento" / "contract.yaml")  # SLIPWAY_CONTRACT in the image
    _world_readable(context)


def _world_readable(context: Path) -> None:
    """Files the image carries are read by uid 10001, not by their builder: 0644 / 0755, root-owned."""
    for path in (context, *context.rglob("*")):
        executable = path.is_dir() or path.name == "uv"
        path.chmod(0o755 if executable else 0o644)


BUILD_KEY_LABEL = "dev.slipway.build.key"
PACKAGED = ("slipway", "infra", "policies", "bentos", "pipelines", "runbooks", "images")


def build_key(project: Path, model: ModelFacts, base_ref: str, base_id: str) -> str:
    """Everything that goes into the image; the same key means the same image, reused as it is."""
    import hashlib

    digest = hashlib.sha256()
    for part in (model.tag, model.digest, model.signature, model.public_key_pem, base_ref, base_id):
        digest.update(part.encode() + b"\0")
    files = [CONTAINERFILE, project / "pyproject.toml", project / "uv.lock"]
    for package in PACKAGED:
        files += sorted(p for p in (project / package).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(project) if path.is_relative_to(project) else path.name).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def _cached(engine: Engine, key: str) -> str | None:
    done = engine.run(["images", "--filter", f"label={BUILD_KEY_LABEL}={key}", "--format", "{{.ID}}"], check=False)
    ids = done.stdout.split()
    return ids[0] if done.returncode == 0 and ids else None


def _uv_cache() -> Path | None:
    done = subprocess.run([*uv_command(), "cache", "dir"], capture_output=True, text=True, check=False)
    path = Path(done.stdout.strip()) if done.returncode == 0 else None
    return path if path and path.is_dir() else None


def build_image(request: BuildRequest, engine: Engine) -> BuiltImage:
    project = _project(request.project_dir)
    model = verified_model(request.model, request.contract)
    if request.base:
        if engine.find_image(request.base) is None:
            raise UsageError(f"base image {request.base} is not in local storage (load or pull it first)")
        base_ref, base_how, base_seconds = request.base, "given", 0.0
    else:
        base = ensure_base(engine)
        base_ref, base_how, base_seconds = base.ref, base.how, base.seconds
    tag = request.tag or model.tag.split(":", 1)[1]
    name = f"localhost/{REPOSITORY}:{tag}"
    key = build_key(project, model, base_ref, str(engine.inspect_image(base_ref).get("Id", "")))
    build_started = time.monotonic()
    cached = None if request.no_cache else _cached(engine, key)
    if cached is not None:
        engine.run(["tag", cached, name])
    else:
        _build(engine, project, model, base_ref, name, tag, key, no_cache=request.no_cache)
    build_seconds = time.monotonic() - build_started
    info = engine.inspect_image(name)
    digest = str(info.get("Digest") or "")
    if not digest.startswith("sha256:"):
        raise UsageError(f"{engine.backend} reported no manifest digest for {name}")
    return BuiltImage(
        name=name,
        reference=f"localhost/{REPOSITORY}@{digest}",
        image_id=str(info["Id"]),
        size_bytes=int(info.get("Size") or 0),
        model=model,
        base=base_ref,
        base_how=base_how,
        base_seconds=base_seconds,
        build_seconds=build_seconds,
        cached=cached is not None,
    )


def _build(
    engine: Engine, project: Path, model: ModelFacts, base_ref: str, name: str, tag: str, key: str, *, no_cache: bool
) -> None:
    context = project / "build" / "image" / "context"
    stage_context(project, model, context)
    args = ["build", "--pull=never", "--file", str(context / "Containerfile"), "--tag", name]
    if no_cache:
        args.append("--no-cache")
    args += ["--build-arg", f"BASE={base_ref}"]
    args += ["--build-arg", f"NO_INSTALL={' '.join(f'--no-install-package {p}' for p in kit_only_packages(project))}"]
    cache = _uv_cache()
    if engine.backend == "podman" and cache is not None:
        # the host's uv cache: the locked wheels are already there, so the build needs no network
        args += ["--volume", f"{cache}:/host-uv-cache", "--build-arg", "UV_CACHE_DIR=/host-uv-cache"]
    for label, value in model.labels().items():
        args += ["--label", f"{label}={value}"]
    args += ["--label", "org.opencontainers.image.title=slipway model server"]
    args += ["--label", f"org.opencontainers.image.version={tag}", "--label", f"{BUILD_KEY_LABEL}={key}"]
    args.append(str(context))
    engine.run(args, timeout=1800)


def installed_packages(engine: Engine, ref: str) -> dict[str, str]:
    """name -> version of every distribution inside the image (normalised names)."""
    script = (
        "import importlib.metadata as m, json, re;"
        "print(json.dumps({re.sub(r'[-_.]+','-',d.metadata['Name']).lower(): d.version for d in m.distributions()}))"
    )
    done = engine.run(["run", "--rm", "--pull=never", "--network=none", ref, "python", "-c", script])
    packages: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return packages
