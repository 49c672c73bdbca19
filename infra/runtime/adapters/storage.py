"""Objects in buckets, behind one small interface: what the runtime handlers read and write.

The handlers need "read this object", "write this object", "which objects are under this prefix" and "download
this object to a file". S3 (boto3) and Cloud Storage (google-cloud-storage) implement it; a handler picks one by
name (env `STORAGE`, default `s3`), so the same handler runs on either cloud. Functions that took a boto3 S3
client keep taking one: `object_store` wraps it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from botocore.exceptions import ClientError

CHUNK = 8 << 20
SHA_METADATA = "sha256"  # user metadata a copy carries: its content's SHA-256, so a rerun recognises it


class ObjectNotFound(KeyError):
    """No object at that key."""


class ObjectChanged(RuntimeError):
    """The source of a copy is no longer the version that was read (a conditional copy was refused)."""


@dataclass(frozen=True)
class Downloaded:
    """An object written to a local file: its size, SHA-256 (hex), version (S3 ETag, GCS generation), type."""

    size: int
    sha256: str
    version: str
    content_type: str | None = None


@dataclass(frozen=True)
class Head:
    """What is known of a stored object without reading it: the SHA-256 if the store or its metadata holds it."""

    sha256: str | None
    metadata: Mapping[str, str] = field(default_factory=dict)


def store_errors() -> tuple[type[BaseException], ...]:
    """Errors of any store's client that mean "this object could not be processed" (not a bug)."""
    errors: tuple[type[BaseException], ...] = (ClientError, ObjectNotFound, ObjectChanged)
    try:
        from google.api_core import exceptions as gexc
    except ImportError:  # the AWS image has no Google client
        return errors
    return (*errors, gexc.GoogleAPIError)


@runtime_checkable
class ObjectStore(Protocol):
    """Objects by bucket and key. `get` raises ObjectNotFound for a missing key."""

    scheme: str  # "s3" or "gs": the scheme of the URIs reports and messages use

    def get(self, bucket: str, key: str) -> bytes: ...

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/json") -> None: ...

    def keys(self, bucket: str, prefix: str) -> list[str]: ...

    def download(self, bucket: str, key: str, path: str) -> None: ...

    def fetch(self, bucket: str, key: str, path: Path) -> Downloaded:
        """Download to `path`, hashing as it streams."""
        ...

    def head(self, bucket: str, key: str) -> Head | None:
        """None when there is no object at `key`."""
        ...

    def copy(self, bucket: str, source: str, target: str, *, if_version: str, metadata: Mapping[str, str],
             content_type: str | None) -> None:
        """Copy `source` to `target` (replacing the metadata) only if `source` is still version `if_version`;
        raises ObjectChanged otherwise. The copy's `sha256` metadata is checked against its content."""
        ...

    def delete(self, bucket: str, key: str) -> None: ...


def uri(store: ObjectStore, bucket: str, key: str) -> str:
    return f"{store.scheme}://{bucket}/{key}"


def _stream(chunks: Any, target: Path) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with target.open("wb") as out:
        for chunk in chunks:
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}


def _s3_sha256(response: Mapping[str, Any]) -> str | None:
    """S3's own SHA-256 of a whole object (hex) from a head/copy response; None for none or a composite one."""
    checksum = response.get("ChecksumSHA256")
    if not checksum or "-" in checksum or response.get("ChecksumType") == "COMPOSITE":
        return None
    return base64.b64decode(checksum).hex()


class S3Store:
    """ObjectStore over a boto3 S3 client. Copies ask S3 for a SHA-256 checksum and are conditional on the
    source's ETag (CopySourceIfMatch)."""

    scheme = "s3"

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, bucket: str, key: str) -> bytes:
        try:
            return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ObjectNotFound(f"s3://{bucket}/{key}") from None
            raise

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/json") -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)

    def keys(self, bucket: str, prefix: str) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found.extend(o["Key"] for o in page.get("Contents", []))
        return found

    def download(self, bucket: str, key: str, path: str) -> None:
        self.client.download_file(bucket, key, path)

    def fetch(self, bucket: str, key: str, path: Path) -> Downloaded:
        response = self.client.get_object(Bucket=bucket, Key=key)
        size, sha = _stream(iter(lambda: response["Body"].read(CHUNK), b""), path)
        return Downloaded(size, sha, response["ETag"], response.get("ContentType"))

    def head(self, bucket: str, key: str) -> Head | None:
        """S3's checksum first (it cannot be stale), then the metadata copies carry."""
        try:
            head = self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if _missing(exc):
                return None
            raise
        metadata = dict(head.get("Metadata", {}))
        return Head(_s3_sha256(head) or metadata.get(SHA_METADATA), metadata)

    def copy(self, bucket: str, source: str, target: str, *, if_version: str, metadata: Mapping[str, str],
             content_type: str | None) -> None:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        copied = self.client.copy_object(
            Bucket=bucket, Key=target, CopySource={"Bucket": bucket, "Key": source}, CopySourceIfMatch=if_version,
            ChecksumAlgorithm="SHA256", MetadataDirective="REPLACE", Metadata=dict(metadata), **extra,
        )
        if _s3_sha256(copied.get("CopyObjectResult", {})) != metadata.get(SHA_METADATA):
            # The source changed after it was read (S3 enforces CopySourceIfMatch; this catches it anywhere):
            # the copy is ours, drop it.
            self.client.delete_object(Bucket=bucket, Key=target)
            raise ObjectChanged(f"s3://{bucket}/{source} changed after it was read")

    def delete(self, bucket: str, key: str) -> None:
        self.client.delete_object(Bucket=bucket, Key=key)


class GcsStore:
    """ObjectStore over Cloud Storage (google-cloud-storage). The client is created on first use, with the
    job's credentials (Cloud Run: its service account); tests pass one bound to an emulator."""

    scheme = "gs"

    def __init__(self, client: Any | None = None, *, project: str | None = None) -> None:
        self._client = client
        self.project = project

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import storage  # type: ignore[attr-defined]

            self._client = storage.Client(project=self.project)
        return self._client

    def get(self, bucket: str, key: str) -> bytes:
        from google.api_core import exceptions as gexc

        try:
            return bytes(self.client.bucket(bucket).blob(key).download_as_bytes())
        except gexc.NotFound:
            raise ObjectNotFound(f"gs://{bucket}/{key}") from None

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "application/json") -> None:
        self.client.bucket(bucket).blob(key).upload_from_string(body, content_type=content_type)

    def keys(self, bucket: str, prefix: str) -> list[str]:
        return [blob.name for blob in self.client.list_blobs(bucket, prefix=prefix)]

    def download(self, bucket: str, key: str, path: str) -> None:
        self.client.bucket(bucket).blob(key).download_to_filename(path)

    def fetch(self, bucket: str, key: str, path: Path) -> Downloaded:
        blob = self.client.bucket(bucket).get_blob(key)
        if blob is None:
            raise ObjectNotFound(f"gs://{bucket}/{key}")
        with blob.open("rb", chunk_size=CHUNK) as body:  # pinned to the generation read first
            size, sha = _stream(iter(lambda: body.read(CHUNK), b""), path)
        return Downloaded(size, sha, str(blob.generation), blob.content_type)

    def head(self, bucket: str, key: str) -> Head | None:
        """Cloud Storage keeps no SHA-256: the metadata copies carry, else the object is hashed."""
        blob = self.client.bucket(bucket).get_blob(key)
        if blob is None:
            return None
        metadata = dict(blob.metadata or {})
        if SHA_METADATA in metadata:
            return Head(metadata[SHA_METADATA], metadata)
        digest = hashlib.sha256(blob.download_as_bytes())  # written by someone else: hash it to compare
        return Head(digest.hexdigest(), metadata)

    def copy(self, bucket: str, source: str, target: str, *, if_version: str, metadata: Mapping[str, str],
             content_type: str | None) -> None:
        from google.api_core import exceptions as gexc

        handle = self.client.bucket(bucket)
        try:
            copied = handle.copy_blob(handle.blob(source), handle, target,
                                      if_source_generation_match=int(if_version))
        except gexc.PreconditionFailed:
            raise ObjectChanged(f"gs://{bucket}/{source} changed after it was read") from None
        copied.metadata = dict(metadata)
        if content_type:
            copied.content_type = content_type
        copied.patch()

    def delete(self, bucket: str, key: str) -> None:
        self.client.bucket(bucket).blob(key).delete()


def object_store(value: Any) -> ObjectStore:
    """`value` itself when it is an ObjectStore, else an S3Store over it (a boto3 S3 client)."""
    return value if isinstance(value, ObjectStore) else S3Store(value)


StoreFactory = Callable[[Mapping[str, str], Any], ObjectStore]
STORES: dict[str, StoreFactory] = {
    "s3": lambda settings, clients: S3Store(clients.s3),
    "gcs": lambda settings, clients: GcsStore(project=settings.get("GCP_PROJECT") or None),
}
"""Object stores by name (env `STORAGE`, default `s3`); other clouds' stores register here."""


def get_object_store(settings: Mapping[str, str], clients: Any) -> ObjectStore:
    name = settings.get("STORAGE") or "s3"
    try:
        return STORES[name](settings, clients)
    except KeyError:
        raise ValueError(f"unknown object store {name!r}; known: {sorted(STORES)}") from None
