"""A static site's files, and what a deploy must change in its bucket.

Content types come from the file name (browsers refuse scripts served as text/plain); HTML
is revalidated on every visit, other assets are cached for an hour (a day when the name
carries a content hash, as bundlers write them). Unchanged files (same MD5 and headers) are
not uploaded again; files gone from the site are deleted from the bucket.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path

from pilot_tui.deploy.build.shippable import Collected, collect

EXTRA_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ico": "image/vnd.microsoft.icon",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".md": "text/markdown",
}
TEXT = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "image/svg+xml",
    "application/manifest+json",
)
HASHED = re.compile(r"[.-][0-9a-f]{8,}\.[a-z0-9]+$")  # app.3f2a9c1d.js


@dataclass(frozen=True)
class SiteFile:
    key: str  # path in the bucket, with forward slashes
    local: Path
    size: int
    md5: str  # hex
    content_type: str
    cache_control: str

    @property
    def md5_base64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.md5)).decode()


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    kind = EXTRA_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith(TEXT) else kind


def cache_control(name: str) -> str:
    if name.endswith((".html", ".htm")) or name == "":
        return "no-cache"
    if HASHED.search(name):
        return "public, max-age=86400, immutable"
    return "public, max-age=3600"


def publishable(folder: Path, private: frozenset[Path] = frozenset()) -> Collected:
    """What of ``folder`` a site may publish: never a hidden file (.git, .DS_Store, .env),
    Pilot's state or keys, a link out of the folder, or a program's source (shippable.py)."""
    return collect(folder, private, hidden=False, programs=False)


def scan(folder: Path, shipped: Collected | None = None) -> list[SiteFile]:
    """Every file ``shipped`` (default: publishable(folder)) under ``folder``, sorted by key."""
    files = []
    for key in (shipped or publishable(folder)).paths:
        path = folder / key
        if not path.is_file():
            continue  # folders, and links inside the folder to one or to nothing
        data = path.read_bytes()
        files.append(
            SiteFile(
                key,
                path,
                len(data),
                hashlib.md5(data).hexdigest(),
                content_type(key),
                cache_control(key),
            )
        )
    return files


@dataclass(frozen=True)
class Remote:
    """What the bucket holds for one key."""

    md5: str
    content_type: str
    cache_control: str


@dataclass(frozen=True)
class Changes:
    upload: list[SiteFile]
    delete: list[str]
    unchanged: int

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.upload)


def _base(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _same(file: SiteFile, remote: Remote | None) -> bool:
    # Types compare without parameters: some stores (the GCS emulator) drop "; charset=".
    return (
        remote is not None
        and remote.md5 == file.md5
        and remote.cache_control == file.cache_control
        and _base(remote.content_type) == _base(file.content_type)
    )


def plan(local: list[SiteFile], remote: dict[str, Remote]) -> Changes:
    upload = [f for f in local if not _same(f, remote.get(f.key))]
    keys = {f.key for f in local}
    delete = sorted(k for k in remote if k not in keys)
    return Changes(upload, delete, len(local) - len(upload))
