"""Model-server fixtures: one trained, signed model per session; a fresh SLIPWAY_HOME per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from slipway.signing import KeyStore
from tests.wdbc import FEATURE_NAMES


@dataclass(frozen=True)
class Trained:
    keys_dir: Path
    tag: str
    digest: str
    signature: str


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    from lifecycle.train import train
    from tests.wdbc import WDBC

    keys_dir = tmp_path_factory.mktemp("session-keys") / "keys"
    store = KeyStore(keys_dir)
    store.generate()
    result = train(store, WDBC, seed=7, evaluation=keys_dir.parent / "evaluation")
    return Trained(keys_dir, result.tag, result.digest, result.signature)


@pytest.fixture
def home(trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh $SLIPWAY_HOME holding the session's keys, serving the session's model."""
    home = tmp_path / "slipway-home"
    shutil.copytree(trained.keys_dir, home / "keys")
    monkeypatch.setenv("SLIPWAY_HOME", str(home))
    monkeypatch.setenv("SLIPWAY_MODEL", trained.tag)
    yield home


def dataset() -> tuple[list[dict[str, float]], list[int]]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    records = [dict(zip(FEATURE_NAMES, row.tolist(), strict=True)) for row in data.data]
    return records, [int(t == 0) for t in data.target]


def record(index: int = 0, **changes: Any) -> dict[str, Any]:
    records, _ = dataset()
    return {**records[index], **changes}


@pytest.fixture(scope="session")
def service_app() -> Any:
    """BentoML's ASGI app around the Classifier, built once: BentoML registers its own metrics globally."""
    from bentos.classifier.service import SERVICE

    return SERVICE.to_asgi()


@pytest.fixture
def client(home: Path, service_app: Any) -> Iterator[Any]:
    """The service started (lifespan: a new Classifier reads this test's settings) and stopped per test."""
    from starlette.testclient import TestClient

    with TestClient(service_app, raise_server_exceptions=False) as test_client:
        yield test_client
