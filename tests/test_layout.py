"""The layout's promises: nothing outside the demo, the data contracts and the tests names a feature
or a class of a particular model (the contract file is the only place a model is described)."""

from __future__ import annotations

import re

from tests.conftest import PROJECT_DIR

DEMO = {"bentos/classifier/demo.py"}  # the breast-cancer demo is allowed to speak about its cases
SPELLINGS = re.compile(r"malignant|benign|mean_radius")


def test_no_python_outside_the_demo_contracts_and_tests_names_the_demo_model() -> None:
    offenders = []
    for path in PROJECT_DIR.rglob("*.py"):
        relative = path.relative_to(PROJECT_DIR).as_posix()
        if relative.split("/")[0] in {"tests", "build", ".venv", ".tools", "contracts"} or relative in DEMO:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if SPELLINGS.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)
