"""The one raw-data mirror lookup (lmrepro.paths.data_mirror): the variable wins, then
params data.mirror relative to the repository, then ../shared/data beside it."""

from pathlib import Path

from lmrepro.paths import data_mirror


def test_variable_overrides_params(monkeypatch, tmp_path):
    monkeypatch.setenv("LMREPRO_DATA_MIRROR", str(tmp_path / "env"))
    assert data_mirror("../shared/data", root=tmp_path / "repo") == tmp_path / "env"


def test_params_relative_to_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("LMREPRO_DATA_MIRROR", raising=False)
    assert data_mirror("../mirror", root=tmp_path / "repo") == tmp_path / "repo" / "../mirror"
    assert data_mirror(str(tmp_path / "abs"), root=tmp_path / "repo") == tmp_path / "abs"


def test_default_beside_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("LMREPRO_DATA_MIRROR", raising=False)
    assert data_mirror(root=tmp_path / "repo") == tmp_path / "shared" / "data"
    assert isinstance(data_mirror(None, root=Path("/x/repo")), Path)
