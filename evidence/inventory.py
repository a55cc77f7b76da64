"""What the checks looked at, as OSCAL inventory items: every rendered Kubernetes object of the
stack (with its file in the evidence folder), the pinned model artifact and the model-server image
(by digest). Observations name them as subjects, so an auditor sees *which* objects, model and
image a check covered, not only which component.

Usage::

    assets = [*rendered_assets(objects, hashes), *pinned_assets(config)]
    items = [inventory_item(stack, a) for a in assets]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Protocol

from evidence.component import NS
from evidence.ids import stable_uuid


class Rendered(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def namespace(self) -> str | None: ...
    @property
    def relative_path(self) -> PurePath: ...


@dataclass(frozen=True)
class Asset:
    key: str  # "object/Deployment/slipway-dev/classifier", "model", "image"
    description: str
    component: str  # the SSP component it belongs to
    props: tuple[tuple[str, str], ...] = ()
    href: str | None = None  # its file in the evidence folder


def object_id(kind: str, namespace: str | None, name: str) -> str:
    """``Deployment/slipway-dev/classifier``: how findings, exemptions and assets name an object."""
    return f"{kind}/{namespace or '-'}/{name}"


def object_key(identifier: str) -> str:
    """The asset key of the object ``identifier`` (an ``object_id``)."""
    return f"object/{identifier}"


def rendered_assets(objects: Iterable[Rendered], hashes: Mapping[str, str]) -> list[Asset]:
    """One asset per rendered object; ``hashes``: its file under ``rendered/`` -> SHA-256."""
    assets = []
    for obj in objects:
        href = f"rendered/{obj.relative_path.as_posix()}"
        props = (("kind", obj.kind), ("namespace", obj.namespace or "-"), ("name", obj.name), ("sha256", hashes[href]))
        assets.append(Asset(object_key(object_id(obj.kind, obj.namespace, obj.name)),
                            f"The rendered {obj.kind} {obj.name} of the stack, as `pulumi up` would create it.",
                            "this-system", props, href))  # fmt: skip
    return sorted(assets, key=lambda a: a.key)


def pinned_assets(config: Mapping[str, Any], image: str | None = None) -> list[Asset]:
    """The model artifact and the image the stack pins (``image``: the reference actually examined,
    when it differs from the pin, e.g. a local build before it is pushed)."""
    assets = []
    model = config.get("slipway:modelArtifactDigest")
    if model:
        assets.append(Asset("model", "The signed model artifact the stack pins (the server refuses any other).",
                            "model-server", (("model-digest", str(model)),)))  # fmt: skip
    repository, digest = config.get("slipway:modelImage"), config.get("slipway:modelImageDigest")
    if digest:
        props = [("image-reference", f"{repository}@{digest}"), ("image-digest", str(digest))]
        description = "The model-server image the stack pins."
        if image and image.rsplit("@", 1)[-1] != digest:
            props.append(("examined-image", image))
            description += f" The image examined here is {image}, a build that is not (yet) the pinned one."
        assets.append(Asset("image", description, "model-server", tuple(props)))
    return assets


def asset_uuid(stack: str, key: str) -> str:
    return stable_uuid("asset", stack, key)


def inventory_item(stack: str, asset: Asset) -> dict[str, Any]:
    item: dict[str, Any] = {
        "uuid": asset_uuid(stack, asset.key),
        "description": asset.description,
        "props": [{"name": "asset-id", "value": asset.key}]
        + [{"name": name, "ns": NS, "value": value} for name, value in asset.props],
        "implemented-components": [{"component-uuid": stable_uuid("ssp", stack, asset.component)}],
    }
    if asset.href:
        item["links"] = [{"href": asset.href, "media-type": "application/yaml"}]
    return item
