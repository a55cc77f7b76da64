"""`slipway runbooks` regenerates; `--check` fails on stale, missing or orphaned files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from runbooks.catalog import CATALOG
from runbooks.generate import RUNBOOKS
from tests.conftest import SLIPWAY


def _slipway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SLIPWAY, "runbooks", *args], capture_output=True, text=True, check=False)


def _copy(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "runbooks"
    shutil.copytree(RUNBOOKS, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root, root / "catalog.yaml"


def test_the_committed_files_are_what_the_catalog_generates() -> None:
    result = _slipway("--check")
    assert result.returncode == 0, result.stderr
    assert "up to date: 22 failure modes, 21 alerts" in result.stdout


def test_check_names_every_stale_file_and_regenerating_fixes_it(tmp_path: Path) -> None:
    root, catalog = _copy(tmp_path)
    catalog.write_text(catalog.read_text().replace("A record has waited more than 4 hours", "A record waits too long"))
    (root / "model" / "FeatureDrift.md").unlink()
    (root / "model" / "OldAlert.md").write_text(
        (root / "model" / "PredictionDrift.md").read_text().replace("# PredictionDrift", "# OldAlert")
    )
    (root / "notes").mkdir()
    (root / "notes" / "team-notes.md").write_text("# hand-written, not generated: left alone\n")
    check = _slipway("--check", "--catalog", str(catalog), "--dir", str(root))
    assert check.returncode == 1
    assert "out of date: review/ReviewBacklogPastSLA.md" in check.stderr
    assert "out of date: alerts/slipway.rules.yaml" in check.stderr  # the summary is an annotation
    assert "missing: model/FeatureDrift.md" in check.stderr
    assert "orphaned (no failure mode in the catalog): model/OldAlert.md" in check.stderr
    assert "team-notes" not in check.stderr
    assert _slipway("--catalog", str(catalog), "--dir", str(root)).returncode == 0
    assert not (root / "model" / "OldAlert.md").exists() and (root / "notes" / "team-notes.md").exists()
    assert _slipway("--check", "--catalog", str(catalog), "--dir", str(root)).returncode == 0


def test_an_unusable_catalog_exits_2_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "catalog.yaml"
    broken.write_text(CATALOG.read_text().replace("severity: critical", "severity: urgent", 1))
    result = _slipway("--check", "--catalog", str(broken), "--dir", str(tmp_path))
    assert result.returncode == 2
    assert "failure_modes[ModelServerDown].severity" in result.stderr and "Traceback" not in result.stderr
