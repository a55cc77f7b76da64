"""The drills, by the names the catalog's failure modes give them (``drill:``), gathered from the
modules that own each component's drills.

Usage::

    DRILLS["kill-model-server"]
"""

from __future__ import annotations

from runbooks.drills import ci, inputs, model_loop, pipeline, review, serving
from runbooks.drills.drill import Drill, DrillContext


def _nothing(ctx: DrillContext) -> None:
    return None


WATCHDOG = Drill("watchdog", "Watchdog", "nothing: the alert always fires", None, "none",
                 prepare=_nothing, inject=_nothing, mitigate=None)  # fmt: skip

MODULES = (serving, inputs, review, pipeline, model_loop, ci)
DRILLS: dict[str, Drill] = {drill.name: drill for drill in (WATCHDOG, *(d for m in MODULES for d in m.DRILLS))}
