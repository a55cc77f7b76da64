"""Champion against challenger on the frozen evaluation set (`slipway evaluate`)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bentos.classifier.artifact import VerifiedModel, load_verified
from lifecycle.champion import current_champion, record_champion
from lifecycle.compare import compare
from lifecycle.criteria import load_criteria
from lifecycle.frozen import FrozenSet, directory_for, open_frozen
from slipway.errors import UsageError
from slipway.signing import KeyStore
from tests.conftest import SLIPWAY
from tests.wdbc import WDBC


class _MissesMalignant:
    """A champion's estimator that calls a third of the malignant cases benign, confidently."""

    def __init__(self, estimator: Any) -> None:
        self.estimator, self.classes_ = estimator, estimator.classes_

    def predict_proba(self, features: Any) -> np.ndarray:
        probabilities = np.array(self.estimator.predict_proba(features))
        column = list(self.classes_).index("malignant")
        flipped = np.flatnonzero(probabilities[:, column] > 0.5)[::3]
        probabilities[flipped, column], probabilities[flipped, 1 - column] = 0.1, 0.9
        return probabilities


@pytest.fixture
def trained_pair(tmp_path: Path) -> tuple[VerifiedModel, VerifiedModel, FrozenSet]:
    from lifecycle.train import train

    keys = KeyStore.default()
    keys.generate()
    first = train(keys, WDBC, seed=7)
    second = train(keys, WDBC, seed=3)
    frozen = open_frozen(directory_for(WDBC), WDBC)
    assert frozen is not None
    champion, challenger = (load_verified(t, public_key=keys.public_key_path) for t in (first.tag, second.tag))
    return champion, challenger, frozen


def test_an_equal_challenger_passes_and_a_worse_one_fails_on_paired_bounds(
    trained_pair: tuple[VerifiedModel, VerifiedModel, FrozenSet],
) -> None:
    champion, challenger, frozen = trained_pair
    criteria = load_criteria(None)
    report = compare(challenger, champion, frozen, WDBC, criteria)
    names = {c["name"]: c for c in report["checks"]}
    assert {"accuracy", "recall[malignant]", "brier", "calibration", "latency"} <= set(names)
    assert names["accuracy"]["passed"], names["accuracy"]
    assert report["evaluation_set"]["digest"] == frozen.digest and report["criteria"]["digest"] == criteria.digest
    worse = dataclasses.replace(challenger, estimator=_MissesMalignant(challenger.estimator), digest="sha256:worse")
    report = compare(worse, champion, frozen, WDBC, criteria)
    failed = {c["name"] for c in report["checks"] if not c["passed"]}
    assert not report["passed"] and "recall[malignant]" in failed and "accuracy" in failed
    assert report["paired"]["high_stakes_recall"]["malignant"]["lower_bound"] < 0


def test_the_cli_compares_with_the_recorded_champion_and_writes_the_report(
    trained_pair: tuple[VerifiedModel, VerifiedModel, FrozenSet], tmp_path: Path
) -> None:
    champion, challenger, _ = trained_pair
    evaluate = [SLIPWAY, "evaluate", challenger.tag, "--out", str(tmp_path / "report")]
    refused = subprocess.run(evaluate, capture_output=True, text=True, check=False)
    assert refused.returncode == 2 and "no champion is recorded" in refused.stderr
    record_champion(WDBC, champion, reason="first serving model")
    result = subprocess.run(evaluate, capture_output=True, text=True, check=False)
    assert result.returncode in (0, 1), result.stderr
    report = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert report["champion"]["digest"] == champion.digest and report["challenger"]["digest"] == challenger.digest
    assert result.returncode == (0 if report["passed"] else 1)
    assert (tmp_path / "report" / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| accuracy |" in (tmp_path / "report" / "evaluation.md").read_text()
    assert (current_champion(WDBC) or {})["digest"] == champion.digest


def test_criteria_are_checked_and_named_when_wrong(tmp_path: Path) -> None:
    bad = tmp_path / "promotion.yaml"
    bad.write_text((Path("lifecycle/promotion.yaml").read_text()).replace("margin: 0.02", "margin: 2"))
    with pytest.raises(UsageError, match=r"accuracy\.margin"):
        load_criteria(bad)
    assert load_criteria(None).digest.startswith("sha256:")
