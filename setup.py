"""Package layout the pyproject.toml table cannot express: the top-level templates/ directory (Jinja2 templates
of `mlopsgen new`) ships inside the package as ``infra.templates``, so the wheel carries it as package data."""

from setuptools import find_namespace_packages, setup

setup(
    # Namespace discovery also lists the data-only directories (builtin profiles, schemas, scenarios), which
    # setuptools otherwise warns about as package data outside any package.
    packages=[*find_namespace_packages(include=["infra", "infra.*"], exclude=["*.__pycache__"]),
              "infra.templates", "infra.templates.compare", "infra.templates.project"],
    package_dir={"infra.templates": "templates"},
)
