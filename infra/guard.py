"""Approved-cluster guard: refuse to deploy anywhere the organisation did not approve.

The kubeconfig context the program will use is loaded with the ``kubernetes`` client's own loader
(so exec plugins, relative paths and embedded data behave exactly as they do for kubectl), its API
server URL is compared with the approved list and the CA certificate it trusts is fingerprinted.
The program then hands that same kubeconfig and context to the Pulumi provider, so the cluster that
was checked is the cluster that gets deployed to.

Usage::

    target = verify_cluster(settings.approved_clusters, kubeconfig=None, context=None)
    target.cluster.name        # "prod-eu"
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from infra.config import ApprovedCluster
from slipway.errors import SlipwayError


class ClusterNotApproved(SlipwayError):
    """The kubeconfig points at a cluster that is not on the stack's approved list."""


@dataclass(frozen=True)
class VerifiedTarget:
    cluster: ApprovedCluster
    kubeconfig_text: str
    context: str
    server: str
    ca_sha256: str


def default_kubeconfig_path() -> Path:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first) if first else Path.home() / ".kube" / "config"


def verify_cluster(
    approved: Sequence[ApprovedCluster], *, kubeconfig: str | None, context: str | None
) -> VerifiedTarget:
    """Return the verified target or raise ClusterNotApproved with the reason."""
    if not approved:
        raise ClusterNotApproved(
            "no approved clusters configured: set slipway:approvedClusters to "
            "[{name, server, caSha256}] before deploying (see README, 'Deploy to a real cluster')"
        )
    path = Path(kubeconfig).expanduser() if kubeconfig else default_kubeconfig_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClusterNotApproved(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    server, ca_pem, context_name = _load_context(text, path, context)
    fingerprints = _fingerprints(ca_pem, context_name)
    normalised = _normalise_server(server)
    for cluster in approved:
        if _normalise_server(cluster.server) != normalised:
            continue
        if cluster.ca_sha256 in fingerprints:
            return VerifiedTarget(cluster, text, context_name, server, cluster.ca_sha256)
        raise ClusterNotApproved(
            f"context {context_name!r} reaches {server}, listed as approved cluster {cluster.name!r}, "
            f"but its CA certificate has SHA-256 {_colon(fingerprints[0])}, not the approved "
            f"{_colon(cluster.ca_sha256)}: refusing to deploy (wrong cluster or CA rotated?)"
        )
    allowed = ", ".join(f"{c.name}={c.server}" for c in approved)
    raise ClusterNotApproved(
        f"context {context_name!r} reaches {server}, which is not an approved cluster ({allowed}): refusing to deploy"
    )


def _load_context(text: str, path: Path, context: str | None) -> tuple[str, bytes, str]:
    from kubernetes.config.config_exception import ConfigException
    from kubernetes.config.kube_config import KubeConfigLoader

    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ClusterNotApproved(f"kubeconfig {path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise ClusterNotApproved(f"kubeconfig {path} is not a kubeconfig mapping")
    try:
        loader: Any = KubeConfigLoader(  # type: ignore[no-untyped-call]
            config_dict=document, active_context=context, config_base_path=str(path.parent)
        )
        cluster: Any = loader._cluster  # the client's own resolution of the active context's cluster
        context_name = str(loader.current_context["name"])
        server = str(cluster["server"])
    except ConfigException as exc:
        raise ClusterNotApproved(f"kubeconfig {path}: {exc}") from None
    if cluster.safe_get("insecure-skip-tls-verify"):
        raise ClusterNotApproved(
            f"context {context_name!r} sets insecure-skip-tls-verify: the cluster cannot be "
            "identified by its CA, refusing to deploy"
        )
    return server, _ca_bytes(cluster, path, context_name), context_name


def _ca_bytes(cluster: Any, path: Path, context_name: str) -> bytes:
    data = cluster.safe_get("certificate-authority-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except (binascii.Error, ValueError):
            raise ClusterNotApproved(f"context {context_name!r}: certificate-authority-data is not base64") from None
    ca_path = cluster.safe_get("certificate-authority")
    if ca_path:
        resolved = Path(str(ca_path)).expanduser()
        resolved = resolved if resolved.is_absolute() else path.parent / resolved
        try:
            return resolved.read_bytes()
        except OSError as exc:
            raise ClusterNotApproved(f"cannot read CA certificate {resolved}: {exc.strerror}") from None
    raise ClusterNotApproved(
        f"context {context_name!r} names no certificate authority: the cluster cannot be identified, refusing to deploy"
    )


def _fingerprints(ca_pem: bytes, context_name: str) -> list[str]:
    try:
        certificates = x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        raise ClusterNotApproved(
            f"context {context_name!r}: the certificate authority is not a PEM certificate"
        ) from None
    return [cert.fingerprint(hashes.SHA256()).hex() for cert in certificates]


def _normalise_server(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port or 443
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{host}:{port}{path}"


def _colon(hex_digest: str) -> str:
    return ":".join(hex_digest[i : i + 2] for i in range(0, len(hex_digest), 2)).upper()
