"""JSON Schema of a profile, generated from the Pydantic models (the single source of truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from infra.profiles.model import Profile, ProfileBody

# Beside the built-in profiles, which point to it for editor completion; kept equal to schema_text() by a test.
SCHEMA_FILE = Path(__file__).resolve().with_name("profile.schema.json")


def profile_schema() -> dict[str, Any]:
    schema = Profile.model_json_schema(by_alias=True, mode="validation")
    body = ProfileBody.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
    defs = schema.setdefault("$defs", {})
    defs.update(body.pop("$defs", {}))
    # An overlay is a partial body: same fields, none required, for editor completion.
    body.pop("required", None)
    defs["EnvironmentOverlay"] = body
    env = schema["properties"]["environments"]
    env["additionalProperties"] = {"$ref": "#/$defs/EnvironmentOverlay"}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "mlopsgen stack profile"
    return schema


def schema_text() -> str:
    return json.dumps(profile_schema(), indent=2, sort_keys=True) + "\n"
