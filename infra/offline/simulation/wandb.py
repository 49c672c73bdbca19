"""What the simulation keeps in place of Weights & Biases (no W&B offline), at the registry adapter's HTTP boundary.

`WandbApi` answers the GraphQL operations `infra.runtime.adapters.wandb` sends to `{base}/graphql`, by operation
name, and the manifest upload (PUT to the upload URL it hands out), with W&B's rules as the adapter relies on
them: every request carries basic auth `api:<key>`; an artifact belongs to a collection and gets the next
version index; a digest the collection already has comes back `COMMITTED` (deduplication); a version is found by
name only once committed, and committing needs the uploaded manifest to match the digest; an alias is held by
one version of a collection, so adding it moves it; a missing `collection:alias` answers `null`.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from infra.offline.simulation.cluster import Response
from infra.runtime.adapters.wandb import manifest_digest

UPLOAD_HOST = "https://uploads.wandb.invalid"


@dataclass
class Version:
    id: str
    collection: str
    index: int
    digest: str
    metadata: str
    state: str = "PENDING"
    manifest: dict[str, Any] | None = None
    aliases: list[str] = field(default_factory=list)


@dataclass
class WandbApi:
    """In-memory W&B for one entity/project and API key; `requests` records (method, operation or path)."""

    api_key: str
    versions: dict[str, Version] = field(default_factory=dict)
    runs: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def request(self, method: str, url: str, *, json: dict[str, Any] | None = None, data: bytes | None = None,
                auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
                timeout: float = 0) -> Response:
        if method == "PUT" and url.startswith(UPLOAD_HOST):
            self.requests.append(("PUT", urlparse(url).path))
            version = self.versions.get(urlparse(url).path.rsplit("/", 1)[-1])
            if version is None or data is None:
                return Response(404, {})
            version.manifest = _json_loads(data)
            return Response(200, {})
        if method != "POST" or not url.endswith("/graphql") or json is None:
            return Response(404, {"errors": [{"message": f"no route {method} {url}"}]})
        if auth != ("api", self.api_key):
            return Response(401, {"errors": [{"message": "unauthorized"}]})
        operation = json["query"].split("(", 1)[0].split()[-1]
        self.requests.append(("POST", operation))
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            return Response(200, {"errors": [{"message": f"unknown operation {operation}"}]})
        try:
            return Response(200, {"data": handler(json.get("variables") or {})})
        except LookupError as error:
            return Response(200, {"errors": [{"message": str(error)}]})

    def authorization(self) -> str:
        """The Authorization header a client with the key sends (for `responses`-based tests)."""
        return "Basic " + base64.b64encode(f"api:{self.api_key}".encode()).decode()

    # ------------------------------------------------------------------ operations
    def _op_UpsertBucket(self, v: dict[str, Any]) -> dict[str, Any]:
        self.runs.add(v["name"])
        return {"upsertBucket": {"bucket": {"id": f"run-{v['name']}", "name": v["name"]}}}

    def _op_CreateArtifact(self, v: dict[str, Any]) -> dict[str, Any]:
        if v["artifactTypeName"] != "model" or v.get("runName") not in self.runs:
            raise LookupError("artifacts of type model are created by an existing run")
        (collection,) = v["artifactCollectionNames"]
        same = [x for x in self.versions.values() if x.collection == collection and x.digest == v["digest"]]
        if same:
            return {"createArtifact": {"artifact": {"id": same[0].id, "state": same[0].state}}}
        index = sum(1 for x in self.versions.values() if x.collection == collection)
        version = Version(f"artifact-{next(self._ids)}", collection, index, v["digest"], v.get("metadata") or "{}")
        self.versions[version.id] = version
        for alias in v.get("aliases") or []:
            self._move(version, alias["alias"])
        return {"createArtifact": {"artifact": {"id": version.id, "state": version.state}}}

    def _op_CreateArtifactManifest(self, v: dict[str, Any]) -> dict[str, Any]:
        version = self._get(v["artifactID"])
        return {"createArtifactManifest": {"artifactManifest": {"id": f"manifest-{version.id}", "file": {
            "id": f"file-{version.id}", "uploadUrl": f"{UPLOAD_HOST}/manifests/{version.id}",
            "uploadHeaders": ["Content-Type:application/json"]}}}}

    def _op_CommitArtifact(self, v: dict[str, Any]) -> dict[str, Any]:
        version = self._get(v["artifactID"])
        if version.manifest is None or manifest_digest(version.manifest["contents"]) != version.digest:
            raise LookupError(f"artifact {version.id}: no manifest matching its digest was uploaded")
        version.state = "COMMITTED"
        return {"commitArtifact": {"artifact": {"id": version.id, "digest": version.digest}}}

    def _op_ModelVersionById(self, v: dict[str, Any]) -> dict[str, Any]:
        return {"artifact": self._fields(self._get(v["id"]))}

    def _op_ModelVersionByName(self, v: dict[str, Any]) -> dict[str, Any]:
        collection, _, alias = v["name"].partition(":")
        found = next((x for x in self.versions.values() if x.collection == collection and x.state == "COMMITTED"
                      and (alias in x.aliases or alias == f"v{x.index}")), None)
        return {"project": {"artifact": self._fields(found) if found else None}}

    def _op_AddAliases(self, v: dict[str, Any]) -> dict[str, Any]:
        version = self._get(v["input"]["artifactID"])
        for alias in v["input"]["aliases"]:
            if alias["artifactCollectionName"] != version.collection:
                raise LookupError(f"artifact {version.id} is not in collection {alias['artifactCollectionName']}")
            self._move(version, alias["alias"])
        return {"result": {"success": True}}

    # ------------------------------------------------------------------ helpers
    def _get(self, artifact_id: str) -> Version:
        try:
            return self.versions[artifact_id]
        except KeyError:
            raise LookupError(f"artifact {artifact_id} not found") from None

    def _move(self, version: Version, alias: str) -> None:
        for other in self.versions.values():
            if other.collection == version.collection and alias in other.aliases:
                other.aliases.remove(alias)
        version.aliases.append(alias)

    def holder(self, collection: str, alias: str) -> int | None:
        """The version index holding `alias` in `collection` (None when none does)."""
        return next((x.index for x in self.versions.values() if x.collection == collection and alias in x.aliases),
                    None)

    @staticmethod
    def _fields(version: Version) -> dict[str, Any]:
        return {"id": version.id, "versionIndex": version.index, "state": version.state,
                "metadata": version.metadata, "aliases": [{"alias": a} for a in version.aliases]}


def _json_loads(data: bytes | str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(data)
    return loaded
