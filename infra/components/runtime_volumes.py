"""Where the model server and the jobs read keys and write state: every path is a declared volume.

The root filesystem is read-only, so anything a process writes lives on one of these:

| path | volume | who |
|---|---|---|
| ``/tmp`` | emptyDir, size-limited | everyone |
| ``/var/lib/bentoml`` (``BENTOML_HOME``) | emptyDir, size-limited | model server (BentoML's scratch) |
| ``/var/lib/slipway`` (``SLIPWAY_HOME``) | the state PVC (server: only with the SQLite queue) | server, jobs |
| ``/etc/slipway/keys`` (``SLIPWAY_KEYS``) | read-only: the keys Secret + the public-key ConfigMap | server, jobs |

Usage::

    volumes = [keys_volume(secret="slipway-keys", secret_items=("review.key",))]
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi_kubernetes.core.v1 as core

STATE_VOLUME = "slipway-state"
STATE_PATH = "/var/lib/slipway"
KEYS_VOLUME = "keys"
KEYS_PATH = "/etc/slipway/keys"
PUBLIC_KEY_CONFIG_MAP = "model-public-key"
PUBLIC_KEY_FILE = "signing.pub"
BENTOML_VOLUME = "bentoml-home"
BENTOML_PATH = "/var/lib/bentoml"
KEY_FILE_MODE = 0o440  # group-readable: the kubelet gives the files the pod's fsGroup


def keys_volume(*, secret: str, secret_items: Sequence[str], signing_secret: str | None = None) -> core.VolumeArgsDict:
    """One read-only directory: the public key from its ConfigMap, Fernet keys from the keys Secret
    and, for the retrain job only, the signing key from its own Secret."""
    sources: list[core.VolumeProjectionArgsDict] = [
        {"config_map": {"name": PUBLIC_KEY_CONFIG_MAP, "items": [{"key": PUBLIC_KEY_FILE, "path": PUBLIC_KEY_FILE}]}},
        {"secret": {"name": secret, "items": [{"key": item, "path": item} for item in secret_items]}},
    ]
    if signing_secret is not None:
        sources.append({"secret": {"name": signing_secret, "items": [{"key": "signing.key", "path": "signing.key"}]}})
    return {"name": KEYS_VOLUME, "projected": {"default_mode": KEY_FILE_MODE, "sources": sources}}


def keys_mount() -> core.VolumeMountArgsDict:
    return {"name": KEYS_VOLUME, "mount_path": KEYS_PATH, "read_only": True}


def state_volume() -> core.VolumeArgsDict:
    return {"name": STATE_VOLUME, "persistent_volume_claim": {"claim_name": STATE_VOLUME}}


def scratch_volume(name: str, size: str) -> core.VolumeArgsDict:
    return {"name": name, "empty_dir": {"size_limit": size}}


def mount(name: str, path: str) -> core.VolumeMountArgsDict:
    return {"name": name, "mount_path": path}


def env(name: str, value: str) -> core.EnvVarArgsDict:
    return {"name": name, "value": value}
