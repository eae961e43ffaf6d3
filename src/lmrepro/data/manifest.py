"""The raw-data manifest: which files exist, their size, sha256, origin and licence.

Files are taken from a mirror folder (default ../shared/data, or $LMREPRO_DATA_MIRROR,
or the ``data.mirror`` param) or, when absent there, downloaded from their origin at
the pinned commit. Either way the sha256 must match the manifest.

Downloads go through pooch (a maintained fetcher): it streams into a temporary file,
checks the sha256 before the file takes its name, and retries transient failures (a
dropped connection, a 5xx, a truncated body whose hash does not match) with a backoff.
The mirror always comes first, so a run with a complete mirror never touches the network.
"""

from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lmrepro import io
from lmrepro.errors import LmreproError

GITHUB_RAW = "https://raw.githubusercontent.com"
# Attempts after the first failed download (pooch waits 1 s, 2 s, 3 s between them):
# enough to ride out a dropped connection, few enough that a wrong URL fails in seconds.
DOWNLOAD_RETRIES = 3


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


def download(url: str, dest: Path, sha256: str, label: str, retries: int = DOWNLOAD_RETRIES) -> None:
    """Download ``url`` to ``dest`` with pooch: sha256-checked, retried ``retries`` times.

    ``label`` (the manifest path) names the file in errors. Nothing is left at ``dest``
    unless its hash matched.
    """
    import pooch
    import requests

    fetcher = pooch.create(
        path=dest.parent,
        base_url="",
        registry={dest.name: f"sha256:{sha256}"},
        urls={dest.name: url},
        retry_if_failed=retries,
    )
    try:
        fetcher.fetch(dest.name)
    except ValueError as err:  # pooch's hash mismatch (after the retries)
        raise LmreproError(f"{label}: checksum mismatch for {url} after {retries + 1} attempt(s): {err}") from err
    except (requests.exceptions.RequestException, OSError) as err:
        raise LmreproError(f"{label}: download of {url} failed after {retries + 1} attempt(s): {err}") from err


def fetch_entry(
    entry: ManifestEntry, mirror: Path, dest_root: Path, github_base: str | None = None, retries: int = DOWNLOAD_RETRIES
) -> Path:
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
            download(url, tmp, entry.sha256, entry.path, retries)
            where = url
        size = tmp.stat().st_size
        digest = io.sha256_file(tmp)
        if digest != entry.sha256 or size != entry.bytes:
            raise LmreproError(
                f"{entry.path}: checksum mismatch for {where}: sha256 {digest} ({size} bytes), "
                f"manifest says {entry.sha256} ({entry.bytes} bytes)"
            )
    return final


def fetch_group(
    entries: list[ManifestEntry],
    group: str,
    mirror: Path,
    out_dir: Path,
    github_base: str | None = None,
    retries: int = DOWNLOAD_RETRIES,
) -> list[ManifestEntry]:
    """Fetch every manifest file of ``group`` into out_dir (replaced as a whole)."""
    chosen = [e for e in entries if e.group == group]
    if not chosen:
        groups = sorted({e.group for e in entries})
        raise LmreproError(f"manifest has no files in group {group!r} (groups: {', '.join(groups)})")
    with io.atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for entry in chosen:
            rel = entry.path.split("/", 1)[1]
            fetch_entry(ManifestEntry(rel, entry.bytes, entry.sha256, entry.origin, entry.license), mirror / group, tmp, github_base, retries)
    return chosen
