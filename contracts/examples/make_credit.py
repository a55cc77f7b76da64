"""Generate the credit example's data (`python contracts/examples/make_credit.py`); the output is committed.

Writes ``contracts/examples/credit-applications.csv`` (labelled training data: 2,000 synthetic loan
applications whose risk grade follows a hidden score plus noise) and the pipeline samples under
``pipelines/samples/credit/incoming/``: a branch export with canonical names and dirty values (an
unknown region, text in a whole-number field, a category in other letter case, blanks) and a
partner export with renamed columns, semicolons and yes/no booleans. ``--seed`` and ``--out``
make a fresh data set nobody has seen (the end-to-end test does that). No region is ever
``overseas`` in the training data: a served ``overseas`` application is out of distribution.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parents[1] / "pipelines" / "samples" / "credit" / "incoming"
EMPLOYMENT = ["salaried", "self_employed", "contractor", "unemployed", "retired"]
HOME = ["own", "mortgage", "rent", "other"]
REGIONS = ["north", "south", "east", "west"]  # the contract also allows "overseas"; training never has it
COLUMNS = ["application_id", "submitted_at", "age", "annual_income", "loan_amount", "term_months", "employment",
           "home", "open_credit_lines", "prior_default", "debt_to_income", "region", "branch_code", "risk"]  # fmt: skip


def applications(count: int, seed: int, prefix: str = "app") -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        employment = EMPLOYMENT[rng.choice(5, p=[0.55, 0.15, 0.12, 0.08, 0.10])]
        age = int(np.clip(rng.normal(67 if employment == "retired" else 41, 8 if employment == "retired" else 11),
                          18, 100))  # fmt: skip
        income = float(np.round(np.exp(rng.normal(10.6, 0.45)) * (0.35 if employment == "unemployed" else 1.0), 2))
        amount = float(np.round(np.clip(np.exp(rng.normal(9.4, 0.7)), 500, 250_000), 2))
        term = int(rng.choice([12, 24, 36, 48, 60, 84, 120]))
        home = HOME[rng.choice(4, p=[0.2, 0.35, 0.4, 0.05])]
        lines = int(rng.poisson(4))
        prior = bool(rng.random() < 0.12)
        dti = float(np.round(np.clip(rng.gamma(2.0, 0.14), 0, 5), 3))
        region = REGIONS[rng.choice(4)]
        score = (
            0.00004 * amount
            - 0.000012 * income
            + 2.2 * dti
            + 2.4 * prior
            + {"salaried": -0.6, "self_employed": 0.3, "contractor": 0.2, "unemployed": 1.8, "retired": -0.2}[
                employment
            ]
            + {"own": -0.7, "mortgage": -0.3, "rent": 0.3, "other": 0.5}[home]
            + 0.12 * lines
            - 0.025 * (age - 40)
            + rng.normal(0, 0.3)
        )
        risk = "low" if score < 0.45 else ("medium" if score < 1.5 else "high")
        rows.append(
            {
                "application_id": f"{prefix}-{i:05d}",
                "submitted_at": f"2026-10-{1 + i % 28:02d}T{8 + i % 10:02d}:{i % 60:02d}:00Z",
                "age": age,
                "annual_income": income,
                "loan_amount": amount,
                "term_months": term,
                "employment": employment,
                "home": "" if rng.random() < 0.06 else home,  # paper forms leave it blank
                "open_credit_lines": lines,
                "prior_default": "true" if prior else "false",
                "debt_to_income": "" if rng.random() < 0.1 else dti,  # not verified
                "region": region,
                "branch_code": f"BR{rng.integers(100, 140)}",
                "risk": risk,
            }
        )
    return rows


def _csv(rows: list[dict[str, Any]], columns: list[str], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, delimiter=delimiter, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def samples(out: Path, seed: int) -> None:
    """The two messy exports the credit pipeline sample reads."""
    out.mkdir(parents=True, exist_ok=True)
    branch = applications(60, seed + 1, prefix="br")
    branch[3]["region"] = "atlantis"  # not an allowed value: quarantined (out_of_range)
    branch[4]["age"] = "forty"  # text in a whole number: quarantined (bad_type)
    branch[5]["employment"] = "Self-Employed"  # another spelling? no: '-' is not '_' in a value -> quarantined
    branch[6]["employment"] = "SALARIED"  # letter case does not matter for a category
    branch[7]["term_months"] = "36.0"  # a whole number written as a decimal: accepted
    branch[8]["home"] = ""  # optional: accepted blank
    branch.append(dict(branch[10], submitted_at="2026-11-10T23:00:00Z", loan_amount=9999.0))  # a newer resend
    for row in branch:
        row.pop("risk")  # applications arrive unlabelled
    (out / "2026-11-10-branch.csv").write_text(_csv(branch, COLUMNS[:-1]), encoding="utf-8")
    partner = applications(40, seed + 2, prefix="pt")
    renamed = {"application_id": "App ID", "submitted_at": "Application-Date", "annual_income": "Income",
               "employment": "employment_type", "home": "Home Ownership", "prior_default": "has_prior_default",
               "debt_to_income": "DTI"}  # fmt: skip
    for row in partner:
        row["prior_default"] = "yes" if row["prior_default"] == "true" else "no"
        row.pop("risk")
        for old, new in renamed.items():
            row[new] = row.pop(old)
    columns = [renamed.get(c, c) for c in COLUMNS[:-1]]
    (out / "2026-11-11-partner.csv").write_text(_csv(partner, columns, delimiter=";"), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None, help="write only the labelled CSV, here")
    args = parser.parse_args()
    rows = applications(args.rows, args.seed)
    if args.out is not None:
        args.out.write_text(_csv(rows, COLUMNS), encoding="utf-8")
        return
    (HERE / "credit-applications.csv").write_text(_csv(rows, COLUMNS), encoding="utf-8")
    samples(SAMPLES, args.seed)


if __name__ == "__main__":
    main()
