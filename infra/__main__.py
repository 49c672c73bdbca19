"""Entry point for `pulumi up -s <env>` at the repository root (Pulumi.yaml: `main: infra/`)."""

from __future__ import annotations

import sys

import pulumi

from infra.errors import UserError
from infra.profiles.loader import load_stack
from infra.program import build

try:
    spec = load_stack(pulumi.get_stack())
except UserError as exc:  # a readable message, not a traceback, in `pulumi up` output
    pulumi.log.error(str(exc))
    sys.exit(2)
build(spec)
