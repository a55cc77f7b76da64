"""A pod spec becomes the podman arguments the kubelet's settings amount to (no container started)."""

from __future__ import annotations

import pytest

from infra.rehearse.pod import PodProblem, SecurityContext, command_args, env_args, port_of, resource_args
from infra.rehearse.standins import StandIns
from tests.infra.conftest import RenderFn, pod_specs


def test_the_rendered_server_runs_restricted(render: RenderFn) -> None:
    pods = dict(pod_specs(render("dev")))
    pod = pods["classifier"]
    (container,) = pod["containers"]
    args = SecurityContext.of(pod, container).args(image_user="10001:10001")
    assert args[:2] == ["--user", "10001:10001"]
    for expected in ("--read-only", "--read-only-tmpfs=false", "--cap-drop=ALL", "no-new-privileges"):
        assert expected in args
    assert "--group-add" in args and args[args.index("--group-add") + 1] == "10001"
    assert "--privileged" not in args and "seccomp=unconfined" not in args
    assert resource_args(container) == ["--memory", str(1024**3), "--cpus", "1.0"]
    before, after = command_args(container)
    assert before == ["--entrypoint", '["slipway", "serve", "--host", "0.0.0.0", "--port", "3000"]'] and after == []
    assert port_of(container, "http") == 3000


def test_non_root_must_be_provable() -> None:
    pod = {"securityContext": {"runAsNonRoot": True}}
    with pytest.raises(PodProblem, match="is not numeric"):
        SecurityContext.of(pod, {}).args(image_user="app")
    with pytest.raises(PodProblem, match="would run as uid 0"):
        SecurityContext.of(pod, {}).args(image_user="0")
    assert SecurityContext.of(pod, {}).args(image_user="10001")[:2] == ["--user", "10001:0"]


def test_env_resolves_configmaps_stand_in_secrets_and_the_downward_api() -> None:
    standins = StandIns()
    container = {
        "env": [
            {"name": "PLAIN", "value": "1"},
            {"name": "FROM_MAP", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}},
            {"name": "DSN", "valueFrom": {"secretKeyRef": {"name": "review-store", "key": "dsn"}}},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ]
    }
    args = env_args(container, {"cfg": {"level": "debug"}}, standins, "pod-1", "ml")
    env = dict(a.split("=", 1) for a in args[1::2])
    assert env["PLAIN"] == "1" and env["FROM_MAP"] == "debug" and env["POD"] == "pod-1"
    assert env["DSN"].startswith("postgresql://rehearsal:")
    assert standins.used == ["review-store/dsn"]
    with pytest.raises(PodProblem, match="ConfigMap 'cfg' key 'missing' not found"):
        env_args({"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "missing"}}}]},
                 {"cfg": {}}, standins, "p", "ml")  # fmt: skip


def test_args_replace_cmd_and_command_replaces_the_entrypoint() -> None:
    assert command_args({"args": ["--port", "1"]}) == ([], ["--port", "1"])
    assert command_args({"command": ["a"], "args": ["b"], "workingDir": "/w"}) == (
        ["--entrypoint", '["a"]', "--workdir", "/w"],
        ["b"],
    )
