"""Shared test setup: every test starts with no SLIPWAY_* or Pulumi config from the environment."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
SLIPWAY = str(Path(sys.executable).with_name("slipway"))  # the installed console script
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# BentoML binds its model store to $BENTOML_HOME when first imported: one isolated store per test session.
BENTOML_HOME = Path(tempfile.mkdtemp(prefix="slipway-test-bentoml-"))
os.environ["BENTOML_HOME"] = str(BENTOML_HOME)


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("SLIPWAY_", "PULUMI_CONFIG", "KUBECONFIG")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SLIPWAY_HOME", str(tmp_path / "slipway-home"))
    monkeypatch.setenv("BENTOML_DO_NOT_TRACK", "true")
    yield
