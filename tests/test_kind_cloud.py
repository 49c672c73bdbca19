"""A capability kind of another cloud is reported at its `kind` line as such, whatever fields its section holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from infra.cli.main import app
from infra.profiles.loader import PROFILES_DIR
from infra.profiles.model import ModelSpec, ProfileBody
from infra.profiles.wording import _kind_tag, _members, _models

runner = CliRunner()


def _capability_kinds() -> dict[str, dict[str, str]]:
    """kind -> {kind of the same capability: its cloud}; a kind two capabilities share (lambda-drift monitors the
    platform and a model) keeps only the kinds both accept, so the edit is wrong for either."""
    siblings: dict[str, dict[str, str]] = {}
    for owner in (ProfileBody, ModelSpec):
        for info in owner.model_fields.values():
            union = {tag: getattr(m, "cloud", "aws") for m in _models(_members(info.annotation))
                     if (tag := _kind_tag(m)) is not None}
            for tag in union:
                known = siblings.get(tag)
                siblings[tag] = union if known is None else {k: c for k, c in known.items() if k in union}
    return siblings


SIBLINGS = _capability_kinds()
# Every `kind:` line of each built-in profile's body (overlays too), with its profile's cloud.
KIND_LINES = [(name, i, cloud) for name in ("vertex-managed", "mlflow-sagemaker", "wandb-kubeflow")
              for cloud in [re.search(r"^cloud: (\w+)", (PROFILES_DIR / f"{name}.yaml").read_text(), re.M)]
              for i, line in enumerate((PROFILES_DIR / f"{name}.yaml").read_text().splitlines())
              if re.fullmatch(r" *kind: [a-z-]+", line) and cloud is not None]


@settings(max_examples=40, derandomize=True, deadline=None)
@given(where=st.sampled_from(KIND_LINES), pick=st.integers(min_value=0))
def test_a_kind_of_another_cloud_is_named_at_its_line(where: tuple[str, int, re.Match[str]], pick: int,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    """Any kind line of a built-in profile (body or overlay, platform or model) set to a kind of the other cloud
    for the same capability: exit 2, the error at that line says where the kind runs, no "unknown field"."""
    name, index, cloud_match = where
    cloud = cloud_match.group(1)
    lines = (PROFILES_DIR / f"{name}.yaml").read_text().splitlines()
    others = sorted(k for k, c in SIBLINGS[lines[index].split(":")[1].strip()].items() if c != cloud)
    assume(others)  # a capability only one cloud has (the EKS cluster)
    other = others[pick % len(others)]
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    lines[index] = f"{indent}kind: {other}"
    lines[lines.index(f"name: {name}")] = "name: edited-profile"
    path = Path(tmp_path_factory.mktemp("kind")) / "edited.yaml"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    flat = " ".join(result.output.split())
    own = "gcp" if cloud == "aws" else "aws"
    wanted = f"edited.yaml:{index + 1}: "
    assert wanted in flat and f"kind '{other}' runs on {own}; this profile's cloud is {cloud}" in flat, flat
    assert "unknown field" not in flat, flat
