"""The runtime image's build context, shared by every cloud's registry: the installed infra.runtime package."""

from __future__ import annotations

import hashlib
from pathlib import Path

import infra.runtime

# The installed infra.runtime package is the build context (its Dockerfiles and .dockerignore ship as package
# data), so the image builds the same from a wheel install as from a source checkout.
RUNTIME_DIR = Path(infra.runtime.__file__).resolve().parent


def context_tag() -> str:
    """`ctx-` and 16 hex digits of a SHA-256 over the runtime image's build context (the installed infra.runtime
    package: paths relative to it and bytes, sorted, caches excluded): a new tag whenever what the image holds
    changes, never a mutable `latest`."""
    digest = hashlib.sha256()
    files = sorted(p for p in RUNTIME_DIR.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
    for path in files:
        digest.update(path.relative_to(RUNTIME_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"ctx-{digest.hexdigest()[:16]}"
