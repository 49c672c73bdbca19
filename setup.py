"""Package layout the pyproject.toml table cannot express: the top-level templates/ directory (Jinja2 templates
of `mlopsgen new`) ships inside the package as ``infra.templates``, so the wheel carries it as package data."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["infra", "infra.*"]), "infra.templates"],
    package_dir={"infra.templates": "templates"},
)
