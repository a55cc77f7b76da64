"""``slipway image``: build (and optionally push) the model-server image."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

if TYPE_CHECKING:
    from images.build import ModelFacts


@click.group("image")
def image() -> None:
    """The model-server OCI image (base from Debian's packages, the Bento, the locked environment)."""


@image.command("build")
@click.option("--tag", help="Image tag (default: the model's version).")
@click.option("--backend", type=click.Choice(["podman", "docker"]), default="podman", show_default=True)
@click.option("--base", help="An approved base image already in local storage (default: built from Debian).")
@click.option("--stack", help="Write the image and model pins into Pulumi.<STACK>.yaml.")
@click.option("--push", "registry", metavar="REGISTRY", help="Push to REGISTRY (host[:port]) and pin its digest.")
@click.option(
    "--tls-verify/--no-tls-verify",
    default=None,
    help="Verify the registry's TLS (default: yes, except loopback registries).",
)
@click.option("--model", default="classifier:latest", show_default=True, help="Model tag in $BENTOML_HOME.")
@click.option("--no-cache", is_flag=True, help="Rebuild every layer (the base image is still reused).")
@click.option(
    "--contract",
    default=None,
    metavar="FILE|NAME",
    help="The data contract the model was made for (default: the embedded one its card's digest names).",
)
def build(
    tag: str | None,
    backend: Literal["podman", "docker"],
    base: str | None,
    stack: str | None,
    registry: str | None,
    tls_verify: bool | None,
    model: str,
    no_cache: bool,
    contract: str | None,
) -> None:
    """Build the image and print its reference (name@sha256:...) as the last line.

    The model is verified against $SLIPWAY_KEYS/signing.pub before it is packaged; no key ever goes
    into the image. The image serves the data contract the model was made for ($SLIPWAY_CONTRACT is
    set to the copy it carries). With --push the digest printed is the one the registry returned.

    \b
    Examples:
      slipway image build
      slipway image build --stack dev --push registry.localhost:5000
      slipway image build --base registry.example.internal/base/python:3.11 --tag 2026-12-01
    Exit codes: 0 built; 2 unusable input (no verified model, no engine, bad base).
    """
    from images.build import REPOSITORY, BuildRequest, build_image
    from images.engine import Engine
    from images.push import push
    from slipway.progress import status

    engine = Engine.find(backend)
    with status("building the model-server image (the first base bootstrap takes ~20 s)"):
        built = build_image(BuildRequest(tag=tag, base=base, model=model, no_cache=no_cache, contract=contract), engine)
    reference = built.reference
    summary = built.summary()
    if registry:
        reference = push(engine, built.name, registry, REPOSITORY, tls_verify=tls_verify)
        summary["pushed"] = reference
    if stack:
        summary["stack_file"] = str(_pin_stack(stack, reference, built.model))
    _report(summary)
    click.echo(reference)


def _pin_stack(stack: str, reference: str, model: ModelFacts) -> Path:
    from infra.render import find_project_dir
    from infra.stack_file import set_stack_values

    repository, digest = reference.split("@", 1)
    values = {
        "modelImageDigest": digest,
        "modelArtifactDigest": model.digest,
        "modelSignature": model.signature,
        "modelPublicKey": model.public_key_pem,
    }
    if not repository.startswith("localhost/"):
        values["modelImage"] = repository
    path = find_project_dir(Path.cwd()) / f"Pulumi.{stack}.yaml"
    set_stack_values(path, values)
    return path


def _report(summary: dict[str, object]) -> None:
    """What was built, on stderr: stdout carries only the reference (easy to capture in scripts)."""
    if sys.stderr.isatty():
        base = summary["base"]
        assert isinstance(base, dict)
        click.echo(
            f"built {summary['image']} ({summary['size_mb']} MB) in {summary['build_seconds']} s; "
            f"base {base['ref']} {base['how']} ({base['seconds']} s)",
            err=True,
        )
    else:
        click.echo(json.dumps(summary, sort_keys=True), err=True)
