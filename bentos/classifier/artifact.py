"""The signed model artifact in the BentoML model store, and its verification before use.

An artifact is a BentoML model whose directory holds ``model.joblib`` (the fitted estimator),
``card.json`` (everything the server needs besides the estimator: thresholds, reference
distributions, metrics, training-data fingerprint) and ``signature.json``. The digest covers the
first two files; the Ed25519 signature covers the digest. The server verifies both *before*
unpickling anything, so a tampered artifact never executes.

Usage::

    tag = save_artifact(estimator, card, KeyStore.default())
    bundle = load_verified("classifier:latest", public_key=Path(...), expected_digest=None)
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.contract import Contract
from slipway.errors import SlipwayError
from slipway.signing import KeyStore, SignatureInvalid, public_key_fingerprint, verify

if TYPE_CHECKING:
    from bentos.classifier.settings import ServerSettings

MODEL_NAME = "classifier"
CARD_SCHEMA = 2  # what lifecycle.card writes
CARD_KEYS = ("contract", "classes", "features", "input", "thresholds", "ood", "drift")
SIGNED_FILES = ("model.joblib", "card.json")
SIGNATURE_FILE = "signature.json"


class ArtifactRejected(SlipwayError):
    """The artifact is missing, unsigned, tampered with or signed by another key."""


def artifact_digest(directory: Path) -> str:
    """sha256 over the signed files: their names, sizes and contents, in a fixed order."""
    digest = hashlib.sha256()
    for name in SIGNED_FILES:
        data = (directory / name).read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return "sha256:" + digest.hexdigest()


@dataclass(frozen=True)
class SavedArtifact:
    tag: str
    digest: str
    signature: str
    path: Path


def save_artifact(estimator: Any, card: dict[str, Any], keys: KeyStore) -> SavedArtifact:
    import bentoml
    import joblib

    labels = {"owner": "ml-platform", "project": "slipway", "signed": "ed25519"}
    with bentoml.models.create(MODEL_NAME, labels=labels, metadata={"card": "card.json"}) as model:
        directory = Path(model.path)
        joblib.dump(estimator, directory / "model.joblib")
        (directory / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True), encoding="utf-8")
        digest = artifact_digest(directory)
        signature = keys.sign(digest.encode())
        (directory / SIGNATURE_FILE).write_text(
            json.dumps(
                {
                    "digest": digest,
                    "signature": signature,
                    "algorithm": "ed25519",
                    "public_key": keys.signing_fingerprint(),
                    "signed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        tag = str(model.tag)
    return SavedArtifact(tag, digest, signature, directory)


@dataclass(frozen=True)
class VerifiedModel:
    tag: str
    version: str
    digest: str
    estimator: Any
    card: dict[str, Any]
    signature: str = ""


def bento_model_store(bento: Path) -> Any:
    """The read-only model store inside a built Bento (what the image ships at ``$SLIPWAY_BENTO``)."""
    from bentoml._internal.models.model import ModelStore

    return ModelStore(str(bento / "models"))


def find_model(tag: str, bento: Path | None = None) -> Any:
    """The stored model ``tag``: in ``bento``'s own model store when given, else in $BENTOML_HOME."""
    import bentoml

    try:
        return bentoml.models.get(tag, _model_store=bento_model_store(bento)) if bento else bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        where = f"the image's Bento {bento}" if bento else "the model store"
        raise ArtifactRejected(f"model {tag} is not in {where} (run `slipway train`)") from None


def stored_with_digest(digest: str) -> tuple[str, Path] | None:
    """The tag and directory of the model in $BENTOML_HOME whose signed files have ``digest``."""
    import bentoml

    try:
        models = bentoml.models.list(MODEL_NAME)
    except bentoml.exceptions.NotFound:  # no model of that name yet
        return None
    for model in models:
        try:
            if artifact_digest(Path(model.path)) == digest:
                return str(model.tag), Path(model.path)
        except OSError:
            continue
    return None


def latest_for_contract(contract: Contract, bento: Path | None = None) -> str:
    """The tag of the newest stored model made for ``contract`` (its card records the digest; the
    card is only read here to choose, the chosen model is verified before use)."""
    import bentoml

    models = (
        bentoml.models.list(MODEL_NAME, _model_store=bento_model_store(bento))
        if bento
        else (bentoml.models.list(MODEL_NAME))
    )
    for model in sorted(models, key=lambda m: m.creation_time, reverse=True):
        try:
            card = json.loads((Path(model.path) / "card.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(card, dict) and (card.get("contract") or {}).get("digest") == contract.digest:
            return str(model.tag)
    where = f"the image's Bento {bento}" if bento else "the model store"
    raise ArtifactRejected(
        f"no model in {where} was made for contract {contract.describe()} "
        f"(run `slipway train --contract {contract.source or contract.name}`)"
    )


def load_verified(
    tag: str, *, public_key: Path, expected_digest: str | None = None, bento: Path | None = None
) -> VerifiedModel:
    """Find (see ``find_model``), verify and only then load the artifact; raise ArtifactRejected
    with the reason."""
    import joblib

    model = find_model(tag, bento)
    directory = Path(model.path)
    try:
        recorded = json.loads((directory / SIGNATURE_FILE).read_text(encoding="utf-8"))
        signature = str(recorded["signature"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ArtifactRejected(f"model {model.tag} carries no readable signature ({SIGNATURE_FILE})") from None
    try:
        digest = artifact_digest(directory)
    except OSError as exc:
        raise ArtifactRejected(f"model {model.tag} is incomplete: {exc.strerror}") from None
    if expected_digest and digest != expected_digest:
        raise ArtifactRejected(f"model {model.tag} has digest {digest}, but {expected_digest} was deployed")
    try:
        verify(public_key, digest.encode(), signature)
    except SignatureInvalid:
        fingerprint = _fingerprint_or_unknown(public_key)
        raise ArtifactRejected(
            f"model {model.tag} failed signature verification (digest {digest}) under public key {fingerprint}: "
            "tampered artifact or signed with another key"
        ) from None
    except SlipwayError as exc:
        raise ArtifactRejected(f"cannot verify model {model.tag}: {exc}") from None
    card = json.loads((directory / "card.json").read_text(encoding="utf-8"))
    estimator = joblib.load(directory / "model.joblib")
    return VerifiedModel(str(model.tag), model.tag.version or "", digest, estimator, card, signature)


def check_card(model: VerifiedModel, contract: Contract) -> None:
    """Refuse a model made for another contract (or by a kit whose card the server cannot read)."""
    card = model.card
    if card.get("schema") != CARD_SCHEMA:
        raise ArtifactRejected(
            f"model {model.tag} has a card of schema {card.get('schema')}, this server reads schema {CARD_SCHEMA}: "
            "retrain it (slipway train)"
        )
    missing = [key for key in CARD_KEYS if key not in card]
    if missing:
        raise ArtifactRejected(f"model {model.tag} has an incomplete card (no {', '.join(missing)}): retrain it")
    recorded = card.get("contract", {})
    if recorded.get("digest") != contract.digest:
        raise ArtifactRejected(
            f"model {model.tag} was made for contract {recorded.get('name')} v{recorded.get('version')} "
            f"({str(recorded.get('digest'))[:19]}…), but this server serves {contract.describe()}: serve it with "
            "that contract (SLIPWAY_CONTRACT) or train a model on this one"
        )


def served_tag(settings: ServerSettings, contract: Contract) -> str:
    """SLIPWAY_MODEL when set, else the newest model made for the contract served."""
    return settings.model or latest_for_contract(contract, settings.bento)


def load_served(settings: ServerSettings, contract: Contract) -> VerifiedModel:
    """The model the settings name (SLIPWAY_MODEL, SLIPWAY_BENTO), or the newest made for the
    contract, verified as the server verifies it."""
    return load_verified(
        served_tag(settings, contract),
        public_key=settings.public_key_path(),
        expected_digest=settings.model_digest,
        bento=settings.bento,
    )


def _fingerprint_or_unknown(path: Path) -> str:
    try:
        return public_key_fingerprint(path)
    except SlipwayError:
        return str(path)
