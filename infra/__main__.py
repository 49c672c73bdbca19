"""Entry point for `pulumi up -s <env>` at the repository root (Pulumi.yaml: `main: infra/`)."""

from infra.program import main

main()
