"""The pre-registered promotion criteria (``lifecycle/promotion.yaml``, versioned, digest recorded).

Usage::

    criteria = load_criteria(None)        # the kit's file; or a path
    criteria.accuracy.margin, criteria.digest
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from slipway.errors import UsageError
from slipway.yamlfiles import read_yaml

DEFAULT = Path(__file__).resolve().parent / "promotion.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Margin(_Strict):
    margin: float = Field(ge=0.0, le=1.0)


class Slices(_Strict):
    min_count: int = Field(ge=1)
    margin: float = Field(ge=0.0, le=1.0)
    confidence_bands: tuple[float, ...]

    @field_validator("confidence_bands")
    @classmethod
    def _increasing(cls, bands: tuple[float, ...]) -> tuple[float, ...]:
        if len(bands) < 2 or list(bands) != sorted(set(bands)) or bands[0] < 0 or bands[-1] > 1:
            raise ValueError("confidence_bands must be at least two increasing edges within [0, 1]")
        return bands


class Brier(_Strict):
    tolerance: float = Field(ge=0.0)


class Latency(_Strict):
    ratio: float = Field(ge=1.0)
    slack_ms: float = Field(ge=0.0)
    samples: int = Field(ge=20, le=10_000)


class Calibration(_Strict):
    require_ok: bool


class Shadow(_Strict):
    seconds: float = Field(ge=0.0)
    min_records: int = Field(ge=0)


class PromotionCriteria(_Strict):
    version: int = Field(ge=1)
    confidence: float = Field(gt=0.5, lt=1.0)
    accuracy: Margin
    high_stakes_recall: Margin
    slices: Slices
    brier: Brier
    latency: Latency
    calibration: Calibration
    shadow: Shadow
    source: str = Field("", exclude=True)

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def load_criteria(path: Path | None) -> PromotionCriteria:
    path = path or DEFAULT
    raw = read_yaml(path, "promotion criteria")
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: the promotion criteria must be a mapping")
    try:
        return PromotionCriteria(**raw, source=str(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(f"{path}: {where}: {first['msg']}") from None
