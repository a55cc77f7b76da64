"""The `pulumi up` entry point (infra.program.run) under Pulumi's mocks: guard first, then one provider."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks

from infra.program import run
from infra.render import stack_config
from tests.conftest import PROJECT_DIR
from tests.infra.kubeconfigs import make_ca, write_kubeconfig

SERVER = "https://dev.k8s.example.internal:6443"


class Recorder(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.resources.append(args)
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


def _run_program(config: dict[str, str]) -> Recorder:
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project="slipway", stack="dev", preview=False)
    pulumi.runtime.set_all_config(config)

    @pulumi_mocks.test  # type: ignore[untyped-decorator]
    def program() -> None:
        run()

    program()
    return recorder


def _config(kubeconfig: Path, fingerprint: str) -> dict[str, str]:
    config = stack_config(PROJECT_DIR, "dev")
    config["slipway:kubeconfig"] = str(kubeconfig)
    config["slipway:approvedClusters"] = json.dumps([{"name": "dev", "server": SERVER, "caSha256": fingerprint}])
    return config


def test_deploys_through_one_provider_bound_to_the_verified_context(tmp_path: Path) -> None:
    pem, fingerprint = make_ca("dev-ca")
    kubeconfig = write_kubeconfig(tmp_path / "config", {"dev-admin": {"server": SERVER, "ca": pem}}, "dev-admin")
    recorder = _run_program(_config(kubeconfig, fingerprint))

    providers = [r for r in recorder.resources if r.typ == "pulumi:providers:kubernetes"]
    assert len(providers) == 1
    assert providers[0].inputs["context"] == "dev-admin"
    kubeconfig_input = providers[0].inputs["kubeconfig"]
    assert pulumi.runtime.rpc._special_sig_key in kubeconfig_input, "the kubeconfig must be a secret in state"
    assert kubeconfig_input["value"] == kubeconfig.read_text()
    objects = [r for r in recorder.resources if r.typ.startswith("kubernetes:")]
    assert len(objects) > 10
    assert all(r.provider and "approved-cluster" in r.provider for r in objects), "a resource bypasses the provider"


def test_refuses_before_registering_anything(tmp_path: Path) -> None:
    pem, _ = make_ca("dev-ca")
    _, approved_fingerprint = make_ca("the-approved-ca")
    kubeconfig = write_kubeconfig(tmp_path / "config", {"dev-admin": {"server": SERVER, "ca": pem}}, "dev-admin")
    with pytest.raises(pulumi.RunError, match="refusing to deploy"):
        _run_program(_config(kubeconfig, approved_fingerprint))


def test_invalid_settings_stop_pulumi_up_with_a_clean_error(tmp_path: Path) -> None:
    pem, fingerprint = make_ca("dev-ca")
    kubeconfig = write_kubeconfig(tmp_path / "config", {"dev-admin": {"server": SERVER, "ca": pem}}, "dev-admin")
    config = {**_config(kubeconfig, fingerprint), "slipway:modelReplicas": "0"}
    with pytest.raises(pulumi.RunError, match="slipway:modelReplicas = '0'"):
        _run_program(config)
