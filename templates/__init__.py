"""Jinja2 templates, shipped in the package as infra.templates: project/ is what `mlopsgen new` renders,
compare/ the comparison report of `mlopsgen compare`."""
