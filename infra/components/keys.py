"""ModelKeys: the public key that verifies the model, as a ConfigMap the workloads mount read-only.

Only public material is created here. The Fernet keys (``review.key``, ``data.key``) and the
signing key come from Secrets that the organisation's secret manager creates (``keysSecret``,
``signingKeySecret``); nothing secret is ever placed in Pulumi state.

Usage::

    ModelKeys("model-keys", ModelKeysArgs(namespace="ml", public_key_pem=pem, labels={...}))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes.core.v1 as core

from infra.components.runtime_volumes import PUBLIC_KEY_CONFIG_MAP, PUBLIC_KEY_FILE


@dataclass(frozen=True)
class ModelKeysArgs:
    namespace: str
    public_key_pem: str
    labels: dict[str, str] = field(default_factory=dict)


class ModelKeys(pulumi.ComponentResource):
    def __init__(self, resource_name: str, args: ModelKeysArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slipway:serving:ModelKeys", resource_name, None, opts)
        core.ConfigMap(
            f"{args.namespace}-{PUBLIC_KEY_CONFIG_MAP}",
            metadata={"name": PUBLIC_KEY_CONFIG_MAP, "namespace": args.namespace, "labels": args.labels},
            data={PUBLIC_KEY_FILE: args.public_key_pem},
            immutable=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
