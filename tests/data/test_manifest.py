import functools
import hashlib
import http.server
import shutil
import threading

import pytest

from lmrepro.data.manifest import ManifestEntry, fetch_entry, fetch_group, read_manifest
from lmrepro.errors import LmreproError


def _entry(path, content: bytes, origin="github:owner/repo@abc123:data/file.txt"):
    return ManifestEntry(path, len(content), hashlib.sha256(content).hexdigest(), origin, "MIT")


def test_real_manifest_lists_every_shared_file(shared_data):
    entries = read_manifest(shared_data / "MANIFEST.tsv")
    assert {e.group for e in entries} == {"rec", "nlu", "text", "energy"}
    for e in entries:
        assert (shared_data / e.path).stat().st_size == e.bytes


def test_copy_from_mirror_verifies_checksum(tmp_path):
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    (mirror / "g").mkdir(parents=True)
    (mirror / "g" / "a.txt").write_bytes(b"hello")
    out = fetch_entry(_entry("g/a.txt", b"hello"), mirror, dest)
    assert out.read_bytes() == b"hello"


def test_checksum_mismatch_is_an_error_and_leaves_nothing(tmp_path):
    mirror, dest = tmp_path / "mirror", tmp_path / "dest"
    (mirror / "g").mkdir(parents=True)
    (mirror / "g" / "a.txt").write_bytes(b"hellO")
    with pytest.raises(LmreproError, match=r"g/a.txt: checksum mismatch"):
        fetch_entry(_entry("g/a.txt", b"hello"), mirror, dest)
    assert not any(dest.rglob("*.txt"))


def test_missing_file_without_recipe_is_an_error(tmp_path):
    entry = _entry("text/x.txt", b"x", origin="debian:r-cran-janeaustenr 1.0.0-1")
    with pytest.raises(LmreproError, match="missing from mirror .* no download recipe"):
        fetch_entry(entry, tmp_path / "mirror", tmp_path / "dest")


class _FlakyHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files, but answers 503 to the first ``failures`` GETs (a flaky origin)."""

    failures = 0
    requests = 0

    def do_GET(self):
        type(self).requests += 1
        if type(self).requests <= type(self).failures:
            self.send_error(503, "try again")
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def origin_server(tmp_path):
    """A loopback HTTP server laid out like raw.githubusercontent.com/<repo>/<commit>/<path>;
    yields (base url, handler class) so a test can make it fail its first requests."""
    root = tmp_path / "origin"
    (root / "owner" / "repo" / "abc123" / "data").mkdir(parents=True)
    (root / "owner" / "repo" / "abc123" / "data" / "file.txt").write_bytes(b"from origin")
    handler_cls = type("Handler", (_FlakyHandler,), {"failures": 0, "requests": 0})
    handler = functools.partial(handler_cls, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler_cls
    server.shutdown()
    server.server_close()


def test_absent_file_is_downloaded_from_its_pinned_origin(tmp_path, origin_server):
    base, handler = origin_server
    entry = _entry("g/file.txt", b"from origin")
    out = fetch_entry(entry, tmp_path / "empty-mirror", tmp_path / "dest", github_base=base)
    assert out.read_bytes() == b"from origin"
    assert handler.requests == 1


def test_mirror_comes_first_and_the_origin_is_not_asked(tmp_path, origin_server):
    base, handler = origin_server
    mirror = tmp_path / "mirror"
    (mirror / "g").mkdir(parents=True)
    (mirror / "g" / "file.txt").write_bytes(b"from origin")
    fetch_entry(_entry("g/file.txt", b"from origin"), mirror, tmp_path / "dest", github_base=base)
    assert handler.requests == 0


def test_transient_failures_are_retried(tmp_path, origin_server):
    base, handler = origin_server
    handler.failures = 1
    out = fetch_entry(_entry("g/file.txt", b"from origin"), tmp_path / "m", tmp_path / "d", github_base=base, retries=1)
    assert out.read_bytes() == b"from origin"
    assert handler.requests == 2
    handler.failures, handler.requests = 5, 0
    with pytest.raises(LmreproError, match=r"g/file.txt: download of .*file.txt failed after 2 attempt\(s\)"):
        fetch_entry(_entry("g/file.txt", b"from origin"), tmp_path / "m", tmp_path / "d2", github_base=base, retries=1)
    assert handler.requests == 2
    assert not [p for p in (tmp_path / "d2").rglob("*") if p.is_file()], "a failed download left a file"


def test_download_checksum_mismatch_and_404(tmp_path, origin_server):
    base, handler = origin_server
    with pytest.raises(LmreproError, match=r"g/file.txt: checksum mismatch for .*after 1 attempt"):
        fetch_entry(_entry("g/file.txt", b"something else"), tmp_path / "m", tmp_path / "d", github_base=base, retries=0)
    assert not any((tmp_path / "d").rglob("*.txt")), "a file whose hash did not match was left behind"
    gone = _entry("g/gone.txt", b"x", origin="github:owner/repo@abc123:data/gone.txt")
    with pytest.raises(LmreproError, match="download of .*gone.txt failed"):
        fetch_entry(gone, tmp_path / "m", tmp_path / "d", github_base=base, retries=0)


def test_fetch_group_replaces_folder_atomically(tmp_path, shared_data):
    entries = read_manifest(shared_data / "MANIFEST.tsv")
    out = tmp_path / "raw" / "energy"
    fetch_group(entries, "energy", shared_data, out)
    assert (out / "nvmexplorer" / "SRAM_1BPC-combined.csv").is_file()
    broken = tmp_path / "broken-mirror"
    shutil.copytree(shared_data / "energy", broken / "energy")
    (broken / "energy" / "nvmexplorer" / "RRAM.cell").write_text("tampered")
    with pytest.raises(LmreproError, match="RRAM.cell: checksum mismatch"):
        fetch_group(entries, "energy", broken, out)
    assert (out / "nvmexplorer" / "RRAM.cell").read_bytes() == (shared_data / "energy" / "nvmexplorer" / "RRAM.cell").read_bytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["energy"]
    with pytest.raises(LmreproError, match="no files in group 'video'"):
        fetch_group(entries, "video", shared_data, tmp_path / "v")
