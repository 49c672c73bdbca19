"""Stack profiles: the typed description of an MLOps platform, the single source of truth for its fields."""

from infra.profiles.model import Profile

__all__ = ["Profile"]
