"""The synthetic world of the model-loop rehearsal and its tests (contract ``loopworld.yaml`` beside it).

Before: the outcome is "yes" with probability sigmoid(4 x1), in both channels (a logistic truth, so
a calibrated logistic model can be right about its own uncertainty); channel b is 5 % of cases.
After the **label shift**, channel b is 60 % of the traffic and there the probability is
sigmoid(4 (x1 - 1.5)): the model keeps answering "yes", confidently, for 0.4 < x1 < 1.5 in channel
b — mostly wrong, and invisible to any input-drift measure of x1. **Harmless drift** moves x2,
which the outcome never depended on.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

CONTRACT = Path(__file__).resolve().parent / "loopworld.yaml"


def probability_yes(x1: Any, channel: Any, *, shift: bool) -> Any:
    """The world's truth: P(outcome = yes) for arrays of x1 and channel, before or after the shift."""
    edge = np.where((np.asarray(channel) == "b") & shift, 1.5, 0.0)
    return 1.0 / (1.0 + np.exp(-4.0 * (np.asarray(x1) - edge)))


def cases(
    n: int, seed: int, *, shift: bool = False, drift: bool = False, x1: Any = None, channel: str | None = None
) -> list[tuple[dict[str, Any], str]]:
    """``x1`` (an array) and ``channel`` replace the world's own draws: a site or a population of its own."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(0.0, 1.5, n) if x1 is None else np.asarray(x1)
    x2 = rng.normal(2.5 if drift else 0.0, 1.0, n)
    drawn = np.where(rng.uniform(size=n) < (0.6 if shift else 0.05), "b", "a")
    where = drawn if channel is None else np.full(n, channel)
    yes = rng.uniform(size=n) < probability_yes(x1, where, shift=shift)
    truth = np.where(yes, "yes", "no")
    return [({"x1": round(float(a), 4), "x2": round(float(b), 4), "channel": str(c)}, str(t))
            for a, b, c, t in zip(x1, x2, where, truth, strict=True)]  # fmt: skip


def write_labelled(path: Path, labelled: list[tuple[dict[str, Any], str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "x1", "x2", "channel", "outcome"])
        for index, (record, truth) in enumerate(labelled):
            writer.writerow([f"r{index}", record["x1"], record["x2"], record["channel"], truth])
    return path
