"""lmrepro.codedeps: the code inputs of a rule are what its stage module imports."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from lmrepro import codedeps
from lmrepro.errors import LmreproError


def _tree(src: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return src


def _closure(src: Path, module: str) -> list[str]:
    return [str(p.relative_to(src)) for p in codedeps.code_files(module, src)]


@pytest.fixture
def src(tmp_path) -> Path:
    return _tree(tmp_path / "src", {
        "lmrepro/__init__.py": "",
        "lmrepro/errors.py": "",
        "lmrepro/unused.py": "",
        "lmrepro/stages/__init__.py": "",
        "lmrepro/stages/job.py": """\
            import json
            import numpy as np
            from lmrepro import errors
            from lmrepro.track import helpers as H

            def main():
                from lmrepro.other.model import build  # lazy: runs only when main() does
                return build()
            """,
        "lmrepro/track/__init__.py": "",
        "lmrepro/track/helpers.py": "from . import sibling\nfrom .deep.leaf import VALUE\n",
        "lmrepro/track/sibling.py": "from .helpers import *\n",  # a cycle
        "lmrepro/track/deep/__init__.py": "",
        "lmrepro/track/deep/leaf.py": "from ... import errors\nVALUE = 1\n",
        "lmrepro/other/__init__.py": "from .weights import init\n",
        "lmrepro/other/weights.py": "def init(): pass\n",
        "lmrepro/other/model.py": "import lmrepro.track.deep\ndef build(): pass\n",
    })


def test_transitive_relative_lazy_and_package_inits(src):
    assert _closure(src, "lmrepro.stages.job") == [
        "lmrepro/__init__.py",
        "lmrepro/errors.py",
        "lmrepro/other/__init__.py",  # executed on the way to other.model
        "lmrepro/other/model.py",  # imported inside a function
        "lmrepro/other/weights.py",  # relative import in a package __init__
        "lmrepro/stages/__init__.py",
        "lmrepro/stages/job.py",
        "lmrepro/track/__init__.py",
        "lmrepro/track/deep/__init__.py",
        "lmrepro/track/deep/leaf.py",  # `from .deep.leaf import VALUE`: a name, its module runs
        "lmrepro/track/helpers.py",
        "lmrepro/track/sibling.py",  # `from . import sibling`: a submodule, not a name
    ]


def test_a_module_that_imports_nothing_of_ours_needs_only_itself_and_its_packages(src):
    assert _closure(src, "lmrepro.track.deep.leaf") == [
        "lmrepro/__init__.py", "lmrepro/errors.py", "lmrepro/track/__init__.py",
        "lmrepro/track/deep/__init__.py", "lmrepro/track/deep/leaf.py",
    ]


@pytest.mark.parametrize("call", ["importlib.import_module(name)", "import_module(name)", "__import__(name)"])
def test_import_by_name_is_rejected_with_file_and_line(src, call):
    _tree(src, {"lmrepro/track/helpers.py": f"import importlib\n\ndef load(name):\n    return {call}\n"})
    with pytest.raises(LmreproError, match=r"helpers\.py:4: .*import the module explicitly"):
        codedeps.code_files("lmrepro.stages.job", src)


def test_unknown_module_is_an_error(src):
    with pytest.raises(LmreproError, match="lmrepro.stages.nope not found"):
        codedeps.code_files("lmrepro.stages.nope", src)


def test_relative_import_beyond_the_package_is_an_error(src):
    _tree(src, {"lmrepro/track/helpers.py": "from .... import x\n"})
    with pytest.raises(LmreproError, match="beyond the top-level package"):
        codedeps.code_files("lmrepro.track.helpers", src)


def test_every_module_of_the_real_package_resolves():
    """No lmrepro source imports modules by name (that would hide code inputs)."""
    package = codedeps.SRC / "lmrepro"
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(codedeps.SRC).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        files = codedeps.code_files(name)
        assert path in files and files == sorted(files), name


def test_cli_prints_repo_relative_paths(capsys):
    assert codedeps.main(["lmrepro.stages.edge_tech"]) == 0
    lines = capsys.readouterr().out.split()
    assert "src/lmrepro/stages/edge_tech.py" in lines and "src/lmrepro/edge/tech.py" in lines
    assert lines == sorted(lines)
    assert codedeps.main(["lmrepro.stages.nope"]) == 2
