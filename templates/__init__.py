"""Jinja2 templates `mlopsgen new` renders into a Pulumi project (shipped in the package as infra.templates)."""
