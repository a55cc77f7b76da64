"""The real `slipway` console script: exit codes, one-line errors, machine-readable output."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import PROJECT_DIR, SLIPWAY


def _slipway(
    *args: str, cwd: Path = PROJECT_DIR, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SLIPWAY, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def test_render_writes_files_and_reports_json_off_a_terminal(tmp_path: Path) -> None:
    result = _slipway("render", "--stack", "dev", "--out", str(tmp_path / "m"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["stack"] == "dev"
    kinds = {row["kind"] for row in report["objects"]}
    assert {"Namespace", "Deployment", "NetworkPolicy", "CronJob", "ResourceQuota"} <= kinds
    for row in report["objects"]:
        assert Path(row["file"]).is_file()


def test_unknown_stack_is_exit_2_with_one_line(tmp_path: Path) -> None:
    result = _slipway("render", "--stack", "qa", "--out", str(tmp_path / "m"))
    assert result.returncode == 2
    assert result.stderr.startswith("slipway: error: stack 'qa' has no Pulumi.qa.yaml")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_invalid_configuration_is_exit_1_and_writes_nothing(tmp_path: Path) -> None:
    result = _slipway(
        "render", "--stack", "dev", "--out", str(tmp_path / "m"), env={"SLIPWAY_MODEL_IMAGE_DIGEST": "latest"}
    )
    assert result.returncode == 1
    assert (
        "slipway:modelImageDigest = 'latest': must be a digest like sha256:<64 lowercase hex digits>" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = _slipway("--debug", "render", "--stack", "qa", "--out", str(tmp_path / "m"))
    assert result.returncode == 2
    assert "Traceback" in result.stderr


def test_outside_the_project_it_says_where_to_run(tmp_path: Path) -> None:
    result = _slipway("render", "--stack", "dev", "--out", str(tmp_path / "m"), cwd=tmp_path)
    assert result.returncode == 2
    assert "no Pulumi.yaml in" in result.stderr


def test_help_shows_examples_and_exit_codes() -> None:
    result = _slipway("render", "--help")
    assert result.returncode == 0
    assert "slipway render --stack dev --out build/manifests" in result.stdout
    assert "Exit codes:" in result.stdout


PACKAGES = ("infra", "images", "policies", "lifecycle", "bentos", "pipelines", "runbooks", "evidence")


def _loaded_after(command: str) -> set[str]:
    """The kit's top-level packages imported once the CLI has loaded ``command`` (in a fresh interpreter)."""
    import sys

    script = (
        "import sys; from slipway.cli import main; import click; "
        f"main.get_command(click.Context(main), {command!r}); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(PACKAGES)!r}))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(result.stdout.replace("'", '"')))


def test_each_package_owns_its_commands_and_loading_one_imports_no_other() -> None:
    from slipway.cli import COMMANDS

    for command, location in COMMANDS.items():
        owner = location.split(".")[0]
        assert _loaded_after(command) == ({owner} - {"slipway"}), command
    assert _loaded_after("keys") == set()


def test_help_lists_every_package_command() -> None:
    result = _slipway("--help")
    assert result.returncode == 0
    for command in ("render", "rehearse", "image", "gate", "train", "model", "serve", "review", "drift",
                    "pipeline", "runbooks", "keys", "audit", "auth", "drill", "evidence"):  # fmt: skip
        assert f"  {command} " in result.stdout
