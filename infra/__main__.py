"""Entry point that `pulumi up` / `pulumi preview` run (Pulumi.yaml: `main: infra/`)."""

import sys
from pathlib import Path

# Pulumi runs this directory as a script; make the project root importable even without `uv sync`.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.program import run

run()
