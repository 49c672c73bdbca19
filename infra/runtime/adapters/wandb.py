"""Model registry in Weights & Biases: a model's versions are artifacts of type `model` in one collection per
model (`<entity>/<project>/<collection>:v<n>`), its states are aliases (`approved`, `champion`, `challenger`;
W&B keeps an alias on one version of a collection, so adding it moves it).

Why W&B's GraphQL API with `requests` and not the `wandb` package: wandb 0.31.0 is a 62 MB install with a Go
service binary (`wandb-core`) that every artifact upload goes through (the manifest upload and commit live in
that binary, not in Python), and `import wandb` takes 0.3-0.9 s on this project's machines; the runtime image
already has `requests`. The calls are the ones the official client makes (wandb 0.31.0: `Api.create_run`,
`sdk/artifacts/_gqlutils.create_artifact_version`, the AddAliases mutation, and wandb-core's
CreateArtifactManifest / CommitArtifact), sent to `{WANDB_BASE_URL}/graphql` with HTTP basic auth
(`api`, the API key), as the client does:

- register: `upsertBucket` (the registering run: artifacts are created by a run), `createArtifact` (type
  `model`, the collection, the manifest digest, metadata with the archive's URI, aliases `latest` and, if
  approved, `approved`), `createArtifactManifest` + PUT of `wandb_manifest.json` to its upload URL, and
  `commitArtifact`. The archive stays where training wrote it (S3): the manifest holds one reference entry
  `model.tar.gz` -> its URI, digested as the client digests an unchecksummed reference (the URI itself). A
  version whose digest the collection already has comes back committed (W&B deduplicates): nothing is uploaded.
- find: `project.artifact(name: "<collection>:<alias>")`; a missing alias answers `null`.
- mark: `addAliases` on the version.

Settings (the job's environment; the ConfigMap and Secret `wandb` of the profile's secret chain):
WANDB_API_KEY (required), WANDB_BASE_URL (default https://api.wandb.ai), WANDB_ENTITY, WANDB_PROJECT (required),
REGISTERED_MODEL (the collection; required).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from infra.runtime.adapters.registry import ALIASES, APPROVED, ModelVersion

DEFAULT_BASE_URL = "https://api.wandb.ai"
ARCHIVE = "model.tar.gz"
_DIGEST_HEADER = "wandb-artifact-manifest-v1\n"  # wandb ArtifactManifestV1.digest (MANIFEST_MD5)

UPSERT_RUN = """mutation UpsertBucket($project: String, $entity: String, $name: String!, $state: String) {
  upsertBucket(input: {modelName: $project, entityName: $entity, name: $name, state: $state}) {
    bucket { id name }
  }
}"""
CREATE_ARTIFACT = """mutation CreateArtifact($artifactTypeName: String!, $artifactCollectionNames: [String!],
    $entityName: String!, $projectName: String!, $runName: String, $description: String, $digest: String!,
    $digestAlgorithm: ArtifactDigestAlgorithm!, $aliases: [ArtifactAliasInput!], $metadata: JSONString) {
  createArtifact(input: {artifactTypeName: $artifactTypeName, artifactCollectionNames: $artifactCollectionNames,
      entityName: $entityName, projectName: $projectName, runName: $runName, description: $description,
      digest: $digest, digestAlgorithm: $digestAlgorithm, aliases: $aliases, metadata: $metadata,
      enableDigestDeduplication: true}) {
    artifact { id state }
  }
}"""
CREATE_MANIFEST = """mutation CreateArtifactManifest($artifactID: ID!, $name: String!, $digest: String!,
    $entityName: String!, $projectName: String!, $runName: String!, $manifestType: ArtifactManifestType!) {
  createArtifactManifest(input: {artifactID: $artifactID, name: $name, digest: $digest, entityName: $entityName,
      projectName: $projectName, runName: $runName, type: $manifestType}) {
    artifactManifest { id file { id uploadUrl uploadHeaders } }
  }
}"""
COMMIT_ARTIFACT = """mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } }
}"""
_VERSION_FIELDS = "id versionIndex state metadata aliases { alias }"
ARTIFACT_BY_NAME = f"""query ModelVersionByName($entity: String!, $project: String!, $name: String!) {{
  project(name: $project, entityName: $entity) {{ artifact(name: $name) {{ {_VERSION_FIELDS} }} }}
}}"""
ARTIFACT_BY_ID = f"""query ModelVersionById($id: ID!) {{ artifact(id: $id) {{ {_VERSION_FIELDS} }} }}"""
ADD_ALIASES = """mutation AddAliases($input: AddAliasesInput!) { result: addAliases(input: $input) { success } }"""


class WandbRegistryError(RuntimeError):
    """W&B refused or failed a request (HTTP status, or GraphQL `errors` in a 200 answer)."""


def manifest(uri: str) -> dict[str, Any]:
    """`wandb_manifest.json` (manifest version 1) of a version whose archive is the reference `uri`."""
    return {"version": 1, "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {ARCHIVE: {"digest": uri, "ref": uri}}}


def manifest_digest(contents: Mapping[str, Mapping[str, Any]]) -> str:
    """The artifact digest: MD5 over the header and `<path>:<entry digest>\\n` per entry, sorted by path."""
    hasher = hashlib.md5(_DIGEST_HEADER.encode(), usedforsecurity=False)
    for path in sorted(contents):
        hasher.update(f"{path}:{contents[path]['digest']}\n".encode())
    return hasher.hexdigest()


class WandbModelRegistry:
    """One model's versions in a W&B collection (see the module docstring for the calls)."""

    def __init__(self, collection: str, *, entity: str, project: str, api_key: str,
                 base_url: str = DEFAULT_BASE_URL, session: Any | None = None, timeout: float = 30.0) -> None:
        missing = [name for name, value in (("REGISTERED_MODEL", collection), ("WANDB_ENTITY", entity),
                                            ("WANDB_PROJECT", project), ("WANDB_API_KEY", api_key)) if not value]
        if missing:
            raise ValueError(f"the wandb-artifacts registry needs env {', '.join(missing)}")
        self.model, self.entity, self.project = collection, entity, project
        self.url = f"{base_url.rstrip('/')}/graphql"
        self._auth = ("api", api_key)
        self._session = session
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Mapping[str, str], session: Any | None = None) -> WandbModelRegistry:
        return cls(settings.get("REGISTERED_MODEL", ""), entity=settings.get("WANDB_ENTITY", ""),
                   project=settings.get("WANDB_PROJECT", ""), api_key=settings.get("WANDB_API_KEY", ""),
                   base_url=settings.get("WANDB_BASE_URL") or DEFAULT_BASE_URL, session=session)

    def __repr__(self) -> str:  # never the key
        return f"W&B {self.entity}/{self.project}/{self.model}"

    @property
    def session(self) -> Any:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    def _graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        response = self.session.request("POST", self.url, json={"query": query, "variables": dict(variables)},
                                        auth=self._auth, timeout=self.timeout)
        if response.status_code >= 400:
            raise WandbRegistryError(f"W&B answered HTTP {response.status_code} to {query.split('(')[0]}")
        body = response.json()
        if body.get("errors"):
            messages = "; ".join(str(e.get("message", e)) for e in body["errors"])
            raise WandbRegistryError(f"W&B refused {query.split('(')[0]}: {messages}")
        return dict(body.get("data") or {})

    def _version(self, artifact: Mapping[str, Any]) -> ModelVersion:
        metadata = artifact.get("metadata") or {}
        if isinstance(metadata, str):  # JSONString
            metadata = json.loads(metadata or "{}")
        return ModelVersion(self.model, int(artifact.get("versionIndex") or 0), str(metadata.get("storage_uri", "")),
                            str(artifact["id"]), tuple(a["alias"] for a in artifact.get("aliases") or []))

    def register(self, uri: str, *, description: str = "", metadata: Mapping[str, Any] | None = None,
                 approved: bool = False) -> ModelVersion:
        """A new version of the collection pointing at the archive `uri`; `approved`: it also gets `approved`."""
        contents = manifest(uri)
        digest = manifest_digest(contents["contents"])
        run = f"register-{digest[:16]}"  # one registering run per archive: a retried job reuses it
        self._graphql(UPSERT_RUN, {"project": self.project, "entity": self.entity, "name": run, "state": "finished"})
        aliases = [{"artifactCollectionName": self.model, "alias": a} for a in ("latest", *([APPROVED] * approved))]
        created = self._graphql(CREATE_ARTIFACT, {
            "artifactTypeName": "model", "artifactCollectionNames": [self.model], "entityName": self.entity,
            "projectName": self.project, "runName": run, "description": description, "digest": digest,
            "digestAlgorithm": "MANIFEST_MD5", "aliases": aliases,
            "metadata": json.dumps({**(metadata or {}), "storage_uri": uri}, sort_keys=True, default=str),
        })["createArtifact"]["artifact"]
        if created["state"] != "COMMITTED":  # a deduplicated digest comes back committed
            self._upload_manifest(created["id"], run, digest, contents)
            self._graphql(COMMIT_ARTIFACT, {"artifactID": created["id"]})
        return self._version(self._graphql(ARTIFACT_BY_ID, {"id": created["id"]})["artifact"])

    def _upload_manifest(self, artifact_id: str, run: str, digest: str, contents: Mapping[str, Any]) -> None:
        file = self._graphql(CREATE_MANIFEST, {
            "artifactID": artifact_id, "name": "wandb_manifest.json", "digest": digest, "entityName": self.entity,
            "projectName": self.project, "runName": run, "manifestType": "FULL",
        })["createArtifactManifest"]["artifactManifest"]["file"]
        headers = dict(h.split(":", 1) for h in file.get("uploadHeaders") or [])
        response = self.session.request("PUT", file["uploadUrl"], data=json.dumps(contents).encode(),
                                        headers=headers, timeout=self.timeout)
        if response.status_code >= 400:
            raise WandbRegistryError(f"uploading the manifest failed: HTTP {response.status_code}")

    def version_with_alias(self, alias: str) -> ModelVersion | None:
        """The version holding `alias` (or a version name such as `v3`); None when none does."""
        project = self._graphql(ARTIFACT_BY_NAME, {"entity": self.entity, "project": self.project,
                                                   "name": f"{self.model}:{alias}"}).get("project") or {}
        artifact = project.get("artifact")
        return self._version(artifact) if artifact else None

    def latest_approved(self) -> ModelVersion | None:
        """The version holding `approved`: approving a version moves the alias to it, so it is the newest one."""
        return self.version_with_alias(APPROVED)

    def mark(self, version: ModelVersion, alias: str) -> None:
        if alias not in ALIASES:
            raise ValueError(f"unknown registry alias {alias!r}; known: {', '.join(ALIASES)}")
        self._graphql(ADD_ALIASES, {"input": {"artifactID": version.ref, "aliases": [{
            "artifactCollectionName": self.model, "alias": alias, "entityName": self.entity,
            "projectName": self.project}]}})
