"""A CycloneDX 1.6 SBOM of the model-server image, when it is built here: the image (by digest) as
the root component, the Debian release and every installed Debian package (from the image's own
dpkg database), and every Python distribution installed in it — those uv.lock pins carry the lock's
file hashes. The packages are read by running the image itself, without network, as the pod's user.

Reproducible: the serial number is derived from the image digest, the components are sorted and the
timestamp is the one given.

Usage::

    image = find_image(config, explicit=None)        # None: no engine, or the image is not built here
    text = image_sbom_json(image, contents(image), Path("uv.lock"), when)
"""

from __future__ import annotations

import datetime
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.ids import NAMESPACE
from evidence.sbom import bom_json, locked_components, purl
from slipway.errors import UsageError

if TYPE_CHECKING:
    from images.engine import Engine

# Runs inside the image (its python3; no network): the dpkg database and the Python distributions.
_LIST = r"""
import importlib.metadata as m, json, re
debs = []
for block in open("/var/lib/dpkg/status", encoding="utf-8").read().split("\n\n"):
    fields = dict(l.split(": ", 1) for l in block.splitlines() if ": " in l and not l.startswith(" "))
    if fields.get("Status") == "install ok installed":
        debs.append([fields["Package"], fields["Version"], fields.get("Architecture", "all")])
osr = dict(l.split("=", 1) for l in open("/etc/os-release").read().split() if "=" in l)
py = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in m.distributions()}
print(json.dumps({"debian": sorted(debs), "python": sorted(py.items()), "os": osr.get("VERSION_ID", "").strip('"')}))
"""


@dataclass(frozen=True)
class Image:
    reference: str  # as examined: name@sha256:...
    digest: str
    repository: str


@dataclass(frozen=True)
class Contents:
    debian: tuple[tuple[str, str, str], ...]  # (package, version, architecture)
    python: tuple[tuple[str, str], ...]  # (normalised name, version)
    debian_release: str


def find_image(config: dict[str, Any], explicit: str | None) -> Image | None:
    """The image to describe: ``explicit`` (which must be in local storage), else the stack's pinned
    image if this machine has it; None when there is no engine or no such image here."""
    from images.engine import Engine

    pinned = f"{config.get('slipway:modelImage')}@{config.get('slipway:modelImageDigest')}"
    try:
        engine = Engine.find()
    except UsageError:
        if explicit:
            raise
        return None
    reference = explicit or pinned
    info = engine.find_image(reference)
    if info is None and not explicit:  # a local build pinned by its digest (`image build --stack`, no push)
        reference = _local_with_digest(engine, str(config.get("slipway:modelImageDigest"))) or reference
        info = engine.find_image(reference)
    if info is None:
        if explicit:
            raise UsageError(f"image {explicit} is not in the local podman storage (`slipway image build` prints it)")
        return None
    digest = str(info.get("Digest") or "")
    repository = _repository(reference)
    return Image(f"{repository}@{digest}", digest, repository)


def _local_with_digest(engine: Engine, digest: str) -> str | None:
    done = engine.run(["images", "--digests", "--format", "{{.Repository}}@{{.Digest}}"], check=False)
    found = [line for line in done.stdout.splitlines() if line.endswith(f"@{digest}") and "<none>" not in line]
    return found[0] if found else None


def _repository(reference: str) -> str:
    """``host:port/name:tag@digest`` -> ``host:port/name``."""
    name = reference.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name[: name.rfind(":")]
    return name


def contents(image: Image) -> Contents:
    from images.build import RUN_AS
    from images.engine import Engine

    done = Engine.find().run(
        ["run", "--rm", "--pull=never", "--network=none", f"--user={RUN_AS}", image.reference, "python3", "-c", _LIST],
        timeout=120,
    )
    listed = json.loads(done.stdout.strip().splitlines()[-1])
    return Contents(
        tuple(tuple(d) for d in listed["debian"]),
        tuple(tuple(p) for p in listed["python"]),
        str(listed["os"]),
    )


def image_sbom_json(image: Image, found: Contents, lock_path: Path, when: datetime.datetime) -> str:
    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.dependency import Dependency
    from packageurl import PackageURL

    name = image.repository.rsplit("/", 1)[-1]
    root = Component(
        name=image.repository,
        version=image.digest,
        type=ComponentType.CONTAINER,
        bom_ref=image.reference,
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=image.digest.removeprefix("sha256:"))],
        purl=PackageURL(type="oci", name=name, version=image.digest, qualifiers={"repository_url": image.repository}),
    )
    distro = f"debian-{found.debian_release}" if found.debian_release else "debian"
    components = [Component(name="debian", version=found.debian_release, type=ComponentType.OPERATING_SYSTEM,
                            bom_ref=f"os/{distro}")]  # fmt: skip
    for package, version, arch in found.debian:
        deb = PackageURL(type="deb", namespace="debian", name=package, version=version,
                         qualifiers={"arch": arch, "distro": distro})  # fmt: skip
        components.append(Component(name=package, version=version, type=ComponentType.LIBRARY, purl=deb,
                                    bom_ref=str(deb)))  # fmt: skip
    locked = locked_components(lock_path)
    for package, version in found.python:
        component = locked.get(f"{package}@{version}")
        if component is None:  # installed but not from the lock's index files: the kit's own wheel
            component = Component(name=package, version=version, type=ComponentType.LIBRARY,
                                  purl=purl(package, version), bom_ref=str(purl(package, version)))  # fmt: skip
        components.append(component)
    bom = Bom(serial_number=uuid.uuid5(NAMESPACE, "image-sbom/" + image.digest),
              metadata=BomMetaData(component=root, timestamp=when.astimezone(datetime.UTC)))  # fmt: skip
    for component in components:
        bom.components.add(component)
    bom.dependencies.add(Dependency(ref=root.bom_ref, dependencies=[Dependency(ref=c.bom_ref) for c in components]))
    for component in components:
        bom.dependencies.add(Dependency(ref=component.bom_ref))
    return bom_json(bom)
