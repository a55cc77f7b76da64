"""Pipeline configuration (YAML), validated before anything is read.

Minimal form (DESIGN.md)::

    contract: contracts/wdbc.yaml   # optional; relative to this file, or an embedded name (default: wdbc)
    sources:
      - name: incoming          # unique; used in reports and checkpoints
        kind: files             # files | http | sql
        path: data/incoming     # a file or a directory (read recursively, files in name order)
    out: build/pipeline         # optional; default $SLIPWAY_HOME/pipeline, --out overrides
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from slipway.errors import UsageError
from slipway.yamlfiles import read_yaml


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    kind: Literal["files", "http", "sql"]
    path: Path | None = None
    url: str | None = None
    query: str | None = None
    attempts: int = Field(4, ge=1, le=20, description="tries per run for http/sql before the source is stale")
    timeout: float = Field(10.0, gt=0, le=600, description="seconds per http request / sql lock wait")
    cool_down: float = Field(300.0, ge=0, description="seconds the circuit stays open after 3 failed runs")
    backoff: float = Field(0.5, ge=0, le=60, description="first retry wait in seconds (doubles, with jitter)")

    @model_validator(mode="after")
    def _fields_for_kind(self) -> SourceConfig:
        needed = {"files": ("path",), "http": ("url",), "sql": ("url", "query")}[self.kind]
        missing = [field for field in needed if getattr(self, field) is None]
        if missing:
            raise ValueError(f"a {self.kind} source needs {', '.join(missing)}")
        return self


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contract: str | None = None
    sources: list[SourceConfig] = Field(min_length=1)
    out: Path | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> PipelineConfig:
        names = [s.name for s in self.sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {duplicates}")
        return self


def load_config(path: Path) -> PipelineConfig:
    """Read and validate; relative paths are relative to the config file. Errors name the key."""
    data = read_yaml(path, "pipeline config")
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            key = ".".join(str(p) for p in error["loc"]) or "<config>"
            problems.append(f"{key}: {re.sub(r'^Value error, ', '', str(error['msg']))}")
        raise UsageError(f"pipeline config {path}: " + "; ".join(problems)) from None
    base = path.parent
    sources = [
        s.model_copy(update={"path": base / s.path}) if s.path is not None and not s.path.is_absolute() else s
        for s in config.sources
    ]
    out = base / config.out if config.out is not None and not config.out.is_absolute() else config.out
    contract = config.contract
    if contract is not None and not Path(contract).is_absolute() and (base / contract).exists():
        contract = str(base / contract)
    return config.model_copy(update={"sources": sources, "out": out, "contract": contract})
