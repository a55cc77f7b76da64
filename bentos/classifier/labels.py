"""What people's labels say about the served model, from the review store (so every replica, and
decisions made from the CLI, count alike).

Two kinds of labelled case, kept apart because they answer different questions:

- **audit** cases: a random ``SLIPWAY_AUDIT_SAMPLE_RATE`` share of the automatic decisions, also
  sent to review. They are an unbiased sample of what the model decides alone, so their accuracy,
  each weighted by 1 / its sampling rate, is the model's realized accuracy on that traffic.
- **routed** cases: the ones the model sent to a person (low confidence, unusual, high stakes), a
  biased sample. They cannot give an accuracy, but they test calibration: the number the model got
  right against the number its probabilities expected, z = (observed - expected) / sqrt(variance).
  A strongly negative z means the probabilities overstate the model, so the estimated performance
  (``bentos.classifier.estimates``) is not to be trusted.

Only cases of the given model (its digest) count: a new model starts from nothing.

Usage::

    stats = queue.label_statistics(model_digest)
    stats.audit_accuracy, stats.routed_z
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# One statement for both stores (its placeholder is replaced for PostgreSQL's driver).
STATISTICS_SQL = """
SELECT
  COALESCE(SUM(CASE WHEN sample_rate IS NOT NULL THEN 1 ELSE 0 END), 0) AS s1,
  COALESCE(SUM(CASE WHEN sample_rate IS NOT NULL AND label = prediction THEN 1 ELSE 0 END), 0) AS s2,
  COALESCE(SUM(CASE WHEN sample_rate IS NOT NULL THEN 1.0 / sample_rate ELSE 0 END), 0) AS s3,
  COALESCE(SUM(CASE WHEN sample_rate IS NOT NULL AND label = prediction THEN 1.0 / sample_rate ELSE 0 END), 0) AS s4,
  COALESCE(SUM(CASE WHEN sample_rate IS NULL THEN 1 ELSE 0 END), 0) AS s5,
  COALESCE(SUM(CASE WHEN sample_rate IS NULL AND label = prediction THEN 1 ELSE 0 END), 0) AS s6,
  COALESCE(SUM(CASE WHEN sample_rate IS NULL THEN probability ELSE 0 END), 0) AS s7,
  COALESCE(SUM(CASE WHEN sample_rate IS NULL THEN probability * (1 - probability) ELSE 0 END), 0) AS s8
FROM reviews WHERE status = 'resolved' AND model_digest = ?
"""


@dataclass(frozen=True)
class LabelStatistics:
    audit_labelled: int = 0
    audit_correct: int = 0
    audit_weight: float = 0.0
    audit_correct_weight: float = 0.0
    routed_labelled: int = 0
    routed_correct: int = 0
    routed_expected_correct: float = 0.0
    routed_expected_variance: float = 0.0

    @classmethod
    def of_row(cls, row: tuple[object, ...]) -> LabelStatistics:
        a, b, c, d, e, f, g, h = row
        return cls(int(str(a)), int(str(b)), float(str(c)), float(str(d)), int(str(e)), int(str(f)),
                   float(str(g)), float(str(h)))  # fmt: skip

    @property
    def audit_accuracy(self) -> float | None:
        return self.audit_correct_weight / self.audit_weight if self.audit_weight else None

    @property
    def routed_z(self) -> float | None:
        if self.routed_expected_variance <= 0:
            return None
        return (self.routed_correct - self.routed_expected_correct) / math.sqrt(self.routed_expected_variance)
