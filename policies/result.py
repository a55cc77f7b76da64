"""The outcome of one gate run, shared by every report format."""

from __future__ import annotations

from dataclasses import dataclass, field

from policies.config import GateConfig
from policies.model import Enforcement, Finding, InputProblem, Rule, SourceObject

EXIT_CLEAN = 0
EXIT_MANDATORY = 1
EXIT_UNUSABLE = 2


@dataclass
class GateResult:
    objects: list[SourceObject]
    findings: list[Finding]
    problems: list[InputProblem]
    rules: list[tuple[Rule, Enforcement]]
    config: GateConfig
    exemptions_file: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def mandatory(self) -> int:
        return sum(1 for f in self.findings if f.blocking)

    @property
    def exempted(self) -> int:
        return sum(1 for f in self.findings if f.exempted)

    @property
    def exit_code(self) -> int:
        """2 when some input could not be checked (it dominates: the verdict is incomplete), else 1/0."""
        if self.problems:
            return EXIT_UNUSABLE
        return EXIT_MANDATORY if self.mandatory else EXIT_CLEAN
