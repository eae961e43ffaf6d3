"""The raw-data manifest: which files exist, their size, sha256, origin and licence.

Files are taken from a mirror folder (default ../shared/data, or $LMREPRO_DATA_MIRROR,
or the ``data.mirror`` param) or, when absent there, downloaded from their origin at
the pinned commit. Either way the sha256 must match the manifest.
"""

from __future__ import annotations

import csv
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lmrepro import io
from lmrepro.errors import LmreproError

GITHUB_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the mirror root, e.g. "rec/Beauty.txt"
    bytes: int
    sha256: str
    origin: str  # "github:owner/repo@commit:path" or "debian:<package> <version> (...)"
    license: str

    @property
    def group(self) -> str:
        return self.path.split("/", 1)[0]

    def url(self, github_base: str | None = None) -> str | None:
        """Download address at the pinned commit, or None where there is no recipe."""
        if not self.origin.startswith("github:"):
            return None
        spec = self.origin.removeprefix("github:")
        repo_at_commit, _, path = spec.partition(":")
        repo, _, commit = repo_at_commit.partition("@")
        if not (repo and commit and path):
            return None
        base = (github_base or os.environ.get("LMREPRO_GITHUB_RAW_BASE") or GITHUB_RAW).rstrip("/")
        return f"{base}/{repo}/{commit}/{path}"


def read_manifest(path: str | Path) -> list[ManifestEntry]:
    path = Path(path)
    if not path.is_file():
        raise LmreproError(f"{path}: manifest not found")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        required = {"path", "bytes", "sha256", "origin", "license"}
        missing = required - set(reader.fieldnames or [])
        if missing:
            raise LmreproError(f"{path}: manifest lacks column(s) {sorted(missing)}")
        entries = []
        for lineno, row in enumerate(reader, start=2):
            try:
                entries.append(ManifestEntry(row["path"], int(row["bytes"]), row["sha256"].lower(), row["origin"], row["license"]))
            except (TypeError, ValueError) as err:
                raise LmreproError(f"{path}:{lineno}: bad manifest row ({err})") from err
    return entries


def _download(url: str, dest: Path, timeout: float = 60.0) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as err:
        raise LmreproError(f"download of {url} failed: {err}") from err


def fetch_entry(entry: ManifestEntry, mirror: Path, dest_root: Path, github_base: str | None = None) -> Path:
    """Copy (or download) one file into dest_root/<path> and verify its sha256 and size."""
    final = dest_root / entry.path
    source = mirror / entry.path
    with io.atomic_path(final) as tmp:
        if source.is_file():
            shutil.copyfile(source, tmp)
            where = str(source)
        else:
            url = entry.url(github_base)
            if url is None:
                raise LmreproError(
                    f"{entry.path}: missing from mirror {mirror} and its origin {entry.origin!r} "
                    "has no download recipe; place the file in the mirror"
                )
            _download(url, tmp)
            where = url
        size = tmp.stat().st_size
        digest = io.sha256_file(tmp)
        if digest != entry.sha256 or size != entry.bytes:
            raise LmreproError(
                f"{entry.path}: checksum mismatch for {where}: sha256 {digest} ({size} bytes), "
                f"manifest says {entry.sha256} ({entry.bytes} bytes)"
            )
    return final


def fetch_group(entries: list[ManifestEntry], group: str, mirror: Path, out_dir: Path, github_base: str | None = None) -> list[ManifestEntry]:
    """Fetch every manifest file of ``group`` into out_dir (replaced as a whole)."""
    chosen = [e for e in entries if e.group == group]
    if not chosen:
        groups = sorted({e.group for e in entries})
        raise LmreproError(f"manifest has no files in group {group!r} (groups: {', '.join(groups)})")
    with io.atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for entry in chosen:
            rel = entry.path.split("/", 1)[1]
            fetch_entry(ManifestEntry(rel, entry.bytes, entry.sha256, entry.origin, entry.license), mirror / group, tmp, github_base)
    return chosen
