"""The signed artifact: verified before anything is unpickled; any change or other key is refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import bentoml
import pytest

from bentos.classifier.artifact import ArtifactRejected, artifact_digest, load_verified
from slipway.signing import KeyStore
from tests.bentos.conftest import Trained


def test_the_trained_model_verifies_and_carries_its_card(trained: Trained) -> None:
    model = load_verified(trained.tag, public_key=trained.keys_dir / "signing.pub", expected_digest=trained.digest)
    assert model.digest == trained.digest
    card = model.card
    assert card["metrics"]["accuracy"] >= 0.9 and card["metrics"]["roc_auc"] > 0.95
    assert card["training"]["fingerprint"].startswith("sha256:")
    assert card["training"]["source"] == "sklearn:load_breast_cancer"
    assert set(card["drift"]["features"]) == set(card["features"])
    assert 0.5 < card["thresholds"]["confidence"] < 1


@pytest.fixture
def copy_of_model(trained: Trained, tmp_path: Path) -> str:
    """A second stored model (same bytes, new tag) that a test may tamper with."""
    source = Path(bentoml.models.get(trained.tag).path)
    with bentoml.models.create("tamper-target") as model:
        for name in ("model.joblib", "card.json", "signature.json"):
            shutil.copy(source / name, Path(model.path) / name)
        return str(model.tag)


def test_a_changed_byte_is_refused_before_unpickling(
    trained: Trained, copy_of_model: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(bentoml.models.get(copy_of_model).path) / "model.joblib"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setattr("joblib.load", lambda *_: pytest.fail("a tampered artifact was unpickled"))
    with pytest.raises(ArtifactRejected, match="failed signature verification"):
        load_verified(copy_of_model, public_key=trained.keys_dir / "signing.pub")


def test_an_edited_card_is_refused(trained: Trained, copy_of_model: str) -> None:
    path = Path(bentoml.models.get(copy_of_model).path) / "card.json"
    card = json.loads(path.read_text())
    card["thresholds"]["confidence"] = 0.51
    path.write_text(json.dumps(card))
    with pytest.raises(ArtifactRejected, match="failed signature verification"):
        load_verified(copy_of_model, public_key=trained.keys_dir / "signing.pub")


def test_another_key_is_refused(copy_of_model: str, tmp_path: Path) -> None:
    other = KeyStore(tmp_path / "other")
    other.generate()
    with pytest.raises(ArtifactRejected, match="tampered artifact or signed with another key"):
        load_verified(copy_of_model, public_key=other.public_key_path)


def test_a_missing_signature_or_unexpected_digest_is_refused(trained: Trained, copy_of_model: str) -> None:
    with pytest.raises(ArtifactRejected, match="was deployed"):
        load_verified(copy_of_model, public_key=trained.keys_dir / "signing.pub", expected_digest="sha256:" + "0" * 64)
    (Path(bentoml.models.get(copy_of_model).path) / "signature.json").unlink()
    with pytest.raises(ArtifactRejected, match="carries no readable signature"):
        load_verified(copy_of_model, public_key=trained.keys_dir / "signing.pub")


def test_an_unknown_model_is_refused(trained: Trained) -> None:
    with pytest.raises(ArtifactRejected, match="not in the model store"):
        load_verified("classifier:doesnotexist", public_key=trained.keys_dir / "signing.pub")


def test_the_digest_covers_names_and_contents(trained: Trained) -> None:
    directory = Path(bentoml.models.get(trained.tag).path)
    assert artifact_digest(directory) == trained.digest
