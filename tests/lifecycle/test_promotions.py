"""Promotion records: four eyes, states, and signatures that `slipway audit verify` checks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lifecycle.promotions import PromotionRefused, approve, promotions, reject, request
from slipway.audit import AuditChainBroken, AuditTrail, _digest, verify_signed
from slipway.identity import Forbidden, Identity
from slipway.signing import KeyStore, SignatureInvalid
from tests.conftest import SLIPWAY
from tests.wdbc import WDBC


def _who(subject: str, *roles: str) -> Identity:
    return Identity("https://idp.example", subject, subject, frozenset(roles or {"admin"}), f"jti-{subject}")


def _report(champion: dict[str, Any], *, passed: bool = True) -> dict[str, Any]:
    return {"contract": WDBC.summary(), "passed": passed,
            "challenger": {"tag": "classifier:new", "digest": "sha256:" + "2" * 64, "signature": "s2"},
            "champion": champion, "evaluation_set": {"digest": "sha256:" + "f" * 64, "rows": 114},
            "criteria": {"version": 1, "digest": "sha256:" + "c" * 64},
            "checks": [{"name": "accuracy", "passed": passed, "value": 0.01, "bound": -0.02}]}  # fmt: skip


@pytest.fixture
def keys_and_champion(tmp_path: Path) -> tuple[KeyStore, dict[str, Any]]:
    from lifecycle.champion import loop_directory

    keys = KeyStore.default()
    keys.generate()
    champion = {"tag": "classifier:old", "digest": "sha256:" + "1" * 64, "signature": "s1"}
    path = loop_directory(WDBC) / "champion.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**champion, "since": "2026-12-01T00:00:00+00:00", "previous": None, "history": []}))
    return keys, champion


def test_four_eyes_and_the_states_of_a_promotion(keys_and_champion: tuple[KeyStore, dict[str, Any]]) -> None:
    keys, champion = keys_and_champion
    with pytest.raises(PromotionRefused, match="did not pass"):
        request(keys, WDBC, _report(champion, passed=False), _who("dr.a"))
    promotion = request(keys, WDBC, _report(champion), _who("dr.a"))
    with pytest.raises(PromotionRefused, match="still requested"):
        request(keys, WDBC, _report(champion), _who("dr.b"))
    with pytest.raises(Forbidden, match="another person must approve"):
        approve(keys, WDBC, promotion.promotion_id, _who("dr.a"), reason="looks fine")
    with pytest.raises(Forbidden):
        approve(keys, WDBC, promotion.promotion_id, _who("dr.r", "reviewer"), reason="not an admin")
    approved = approve(keys, WDBC, promotion.promotion_id, _who("dr.b"), reason="report read")
    assert approved.status == "approved" and (approved.approver or {})["subject"] == "dr.b"
    rejected = reject(keys, WDBC, promotion.promotion_id, _who("dr.c"), reason="changed my mind")
    assert rejected.status == "rejected" and promotions(WDBC)[promotion.promotion_id].status == "rejected"
    assert request(keys, WDBC, _report(champion), _who("dr.a")).status == "requested"  # the next one may start


def test_a_record_altered_and_rechained_still_fails_its_signature(
    keys_and_champion: tuple[KeyStore, dict[str, Any]],
) -> None:
    keys, champion = keys_and_champion
    request(keys, WDBC, _report(champion), _who("dr.a"))
    trail = AuditTrail.for_name("promotions")
    assert verify_signed(trail, keys.public_key_path) == 1
    assert subprocess.run([SLIPWAY, "audit", "verify", "promotions"], capture_output=True, check=False).returncode == 0
    record = json.loads(trail.path.read_text())
    record["data"]["requester"]["subject"] = "dr.someone-else"  # a forger with the file but not the key
    record.pop("hash")
    record["hash"] = _digest(record["prev"], record)
    trail.path.write_text(json.dumps(record, sort_keys=True) + "\n")
    assert trail.verify() == 1  # the chain alone cannot tell
    with pytest.raises(SignatureInvalid, match="does not verify"):
        verify_signed(trail, keys.public_key_path)
    refused = subprocess.run([SLIPWAY, "audit", "verify", "promotions"], capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "does not verify" in refused.stderr and "Traceback" not in refused.stderr
    with pytest.raises(AuditChainBroken):
        trail.path.write_text(trail.path.read_text().replace("dr.someone-else", "dr.x"))
        trail.verify()
