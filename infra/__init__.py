"""mlopsgen: stack profiles rendered into Pulumi programs for MLOps platforms, tested offline."""

__version__ = "0.1.0"  # the one place the version is set (pyproject.toml reads it; `mlopsgen --version` shows it)
