"""Generated files that are committed: write them, or (``--check``) say they are stale.

Usage::

    raise SystemExit(write_or_check(Path("policies/RULES.md"), text, "python -m policies.docs", sys.argv[1:]))
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path


def write_or_check(target: Path, text: str, regenerate: str, argv: Sequence[str]) -> int:
    """0 written / current; 1 stale under ``--check`` (the message names the command that fixes it)."""
    if "--check" in argv:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is stale: run `{regenerate}`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0
