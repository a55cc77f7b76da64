"""Entry point that `pulumi up` / `pulumi preview` run (Pulumi.yaml: `main: infra/`)."""

from infra.program import run

run()
