"""Build throw-away cluster CAs and kubeconfigs for guard tests (nothing here talks to a cluster)."""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_ca(common_name: str) -> tuple[bytes, str]:
    """A self-signed CA certificate (PEM) and its SHA-256 fingerprint (hex)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), cert.fingerprint(hashes.SHA256()).hex()


def write_kubeconfig(path: Path, clusters: dict[str, dict[str, Any]], current: str, *, ca_files: bool = False) -> Path:
    """clusters: context name -> {"server": url, "ca": pem bytes | None, "insecure": bool}."""
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": current,
        "clusters": [],
        "contexts": [],
        "users": [{"name": "tester", "user": {"token": "not-a-real-token"}}],
    }
    for name, spec in clusters.items():
        cluster: dict[str, Any] = {"server": spec["server"]}
        if spec.get("insecure"):
            cluster["insecure-skip-tls-verify"] = True
        elif spec.get("ca") is not None:
            if ca_files:
                ca_path = path.parent / f"{name}-ca.crt"
                ca_path.write_bytes(spec["ca"])
                cluster["certificate-authority"] = ca_path.name
            else:
                cluster["certificate-authority-data"] = base64.b64encode(spec["ca"]).decode()
        doc["clusters"].append({"name": name, "cluster": cluster})
        doc["contexts"].append({"name": name, "context": {"cluster": name, "user": "tester"}})
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path
