"""Model-server settings from ``SLIPWAY_*`` environment variables (the Deployment sets them).

| variable | default | meaning |
|---|---|---|
| SLIPWAY_CONTRACT | wdbc (embedded) | the data contract served: a file or an embedded contract's name |
| SLIPWAY_MODEL | newest for the contract | a model tag in the BentoML store ($BENTOML_HOME), made for the contract |
| SLIPWAY_BENTO | unset | a built Bento to serve, whose own model store holds the model (set in the image) |
| SLIPWAY_MODEL_PUBLIC_KEY | $SLIPWAY_KEYS/signing.pub | Ed25519 public key that must verify the model |
| SLIPWAY_MODEL_DIGEST | unset | when set, the served model must have exactly this digest |
| SLIPWAY_REVIEW_QUEUE | $SLIPWAY_HOME/review/queue.db | a path, sqlite:///absolute/path, or a shared postgresql DSN |
| SLIPWAY_SERVER_REPLICAS | 1 | most replicas that may run (set by the Deployment); a file queue allows 1 |
| SLIPWAY_REVIEW_KEY_FILE | $SLIPWAY_KEYS/review.key | Fernet key encrypting review records at rest |
| SLIPWAY_HIGH_STAKES_LABELS | the contract's label.high_stakes | predicted classes always confirmed by a person |
| SLIPWAY_REVIEW_FOUR_EYES | true | cases of a high-stakes class need two decisions by two different people |
| SLIPWAY_REVIEW_SLA_SECONDS | 14400 | time a case may wait for a person (the review page counts down) |
| SLIPWAY_CONFIDENCE_THRESHOLD | from the model card | minimum calibrated confidence for an automatic decision |
| SLIPWAY_SHADOW_MODEL / _DIGEST | unset | a challenger answering in shadow (logged, never returned), verified |
| SLIPWAY_AUDIT_SAMPLE_RATE | 0.02 | share of automatic decisions also sent to review at random, as audit cases |
| SLIPWAY_MAX_BATCH | 256 | most records in one request |
| SLIPWAY_DRIFT_WINDOW / SLIPWAY_DRIFT_MIN_SAMPLES | 500 / 100 | live drift window and its minimum |
| SLIPWAY_DRIFT_PUBLISH_SECONDS | 1.0 | least interval between PSI gauge updates |
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from slipway.audit import slipway_home
from slipway.contract import Contract, load_contract
from slipway.errors import UsageError
from slipway.signing import KeyStore


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SLIPWAY_", extra="ignore", frozen=True)

    contract: str | None = None
    model: str | None = None
    bento: Path | None = None
    server_replicas: int = Field(1, ge=1)
    model_public_key: Path | None = None
    model_digest: str | None = None
    review_queue: str | None = None
    review_key_file: Path | None = None
    high_stakes_labels: tuple[str, ...] | None = None
    review_four_eyes: bool = True
    review_sla_seconds: float = Field(4 * 3600.0, gt=0)
    confidence_threshold: float | None = Field(None, gt=0.5, lt=1.0)
    audit_sample_rate: float = Field(0.02, ge=0.0, le=1.0)
    shadow_model: str | None = None
    shadow_model_digest: str | None = None
    max_batch: int = Field(256, ge=1, le=10_000)
    drift_window: int = Field(500, ge=10)
    drift_min_samples: int = Field(100, ge=1)
    drift_publish_seconds: float = Field(1.0, ge=0)

    def load_contract(self) -> Contract:
        return load_contract(self.contract)

    def high_stakes(self, contract: Contract) -> tuple[str, ...]:
        """The deployment's override, else the contract's; classes the contract lacks are refused."""
        chosen = contract.label.high_stakes if self.high_stakes_labels is None else self.high_stakes_labels
        unknown = [c for c in chosen if c not in contract.classes]
        if unknown:
            raise UsageError(f"SLIPWAY_HIGH_STAKES_LABELS names {unknown}, not classes of contract {contract.name}")
        return tuple(chosen)

    def four_eyes_classes(self, contract: Contract) -> tuple[str, ...]:
        """The classes whose cases two people decide (none when four-eyes review is off)."""
        return self.high_stakes(contract) if self.review_four_eyes else ()

    def public_key_path(self) -> Path:
        return self.model_public_key or KeyStore.default().public_key_path

    def review_key_path(self) -> Path:
        return self.review_key_file or KeyStore.default().review_key_path

    @property
    def shared_review_store(self) -> bool:
        return (self.review_queue or "").startswith(("postgresql:", "postgres:"))

    def check_review_store(self) -> None:
        """Refuse a file-backed queue that more than one replica would each open as its own file."""
        if self.server_replicas > 1 and not self.shared_review_store:
            raise UsageError(
                f"the review queue {self.review_queue_path()} is a file: {self.server_replicas} replicas would "
                f"keep {self.server_replicas} separate queues; give SLIPWAY_REVIEW_QUEUE a postgresql:// DSN "
                "(slipway:reviewStoreSecret) or run one replica"
            )

    def review_queue_path(self) -> Path:
        """A plain path, or a ``sqlite:///absolute/path`` URL (file-URL style: three slashes, absolute)."""
        if not self.review_queue:
            return slipway_home() / "review" / "queue.db"
        if self.review_queue.startswith("sqlite:"):
            return Path(urlsplit(self.review_queue).path)
        return Path(self.review_queue)
