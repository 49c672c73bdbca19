"""Errors a user can fix (defined in `infra.runtime.errors`, which the runtime image carries on its own)."""

from infra.runtime.errors import Problem, UserError

__all__ = ["Problem", "UserError"]
