"""Pipeline fixtures: the data key quarantined rows are encrypted with, in this test's $SLIPWAY_HOME."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from slipway.signing import KeyStore


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore(Path(os.environ["SLIPWAY_HOME"]) / "keys")
    store.generate()
    return store
