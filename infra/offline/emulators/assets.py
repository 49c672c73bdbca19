"""Pulumi assets and archives as the bytes the engine would upload: file contents, or a zip built in memory.

The real engine zips archives itself; under the mock runtime the inputs still hold the `pulumi.Asset` /
`pulumi.Archive` objects, so the sandbox builds the same content from the local paths they name. Remote
assets are not fetched (the sandbox is offline).
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pulumi

from infra.offline.emulators.base import NotEmulated

# A fixed timestamp keeps the zip (and its hash) the same for the same files.
_EPOCH = (1980, 1, 1, 0, 0, 0)
# Bytecode caches are build by-products of whoever imported the code locally, not part of the source.
_SKIP_DIRS = {"__pycache__"}


def asset_bytes(asset: object) -> bytes:
    """The content of one asset (FileAsset or StringAsset)."""
    if isinstance(asset, pulumi.FileAsset):
        return Path(str(asset.path)).read_bytes()
    if isinstance(asset, pulumi.StringAsset):
        return str(asset.text).encode()
    if isinstance(asset, pulumi.RemoteAsset):
        raise NotEmulated(f"remote asset {asset.uri} is not fetched offline")
    raise TypeError(f"not a Pulumi asset: {type(asset).__name__}")


def archive_zip(archive: object) -> bytes:
    """A zip holding what the archive declares; a FileArchive of a .zip file is used as it is."""
    if isinstance(archive, pulumi.FileArchive):
        path = Path(str(archive.path))
        if path.is_file() and zipfile.is_zipfile(path):
            return path.read_bytes()
    entries: dict[str, bytes] = {}
    _collect(archive, "", entries)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name])
    return buffer.getvalue()


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}".lstrip("/") if prefix else name


def _collect(item: object, prefix: str, entries: dict[str, bytes]) -> None:
    if isinstance(item, pulumi.AssetArchive):
        for name, member in item.assets.items():
            if isinstance(member, pulumi.Asset):
                entries[_join(prefix, name)] = asset_bytes(member)
            else:
                _collect(member, _join(prefix, name), entries)
    elif isinstance(item, pulumi.FileArchive):
        _collect_path(Path(str(item.path)), prefix, entries)
    elif isinstance(item, pulumi.RemoteArchive):
        raise NotEmulated(f"remote archive {item.uri} is not fetched offline")
    else:
        raise TypeError(f"not a Pulumi archive: {type(item).__name__}")


def _collect_path(path: Path, prefix: str, entries: dict[str, bytes]) -> None:
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(path)
            if file.is_file() and not _SKIP_DIRS.intersection(relative.parts):
                entries[_join(prefix, relative.as_posix())] = file.read_bytes()
    elif path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if not info.is_dir():
                    entries[_join(prefix, info.filename)] = zf.read(info)
    elif path.is_file() and tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            for member in tf.getmembers():
                extracted = tf.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    entries[_join(prefix, member.name)] = extracted.read()
    else:
        raise FileNotFoundError(f"archive path {path} does not exist")
