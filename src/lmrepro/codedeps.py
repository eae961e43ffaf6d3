"""The package sources a stage runs, computed from its imports (code inputs of every rule).

Why computed: hand-kept lists of code inputs drift (a stage starts importing a module and
nobody adds it), and then editing that module does not rerun the stage, which breaks the
pipeline's promise that changing code reruns exactly what depends on it. This module
reads the import statements of ``lmrepro`` sources with :mod:`ast` (never importing
them) and follows them transitively:

- every ``import lmrepro.x.y`` / ``from lmrepro.x import y`` / relative import, at module
  level or inside a function (a lazy import runs when the stage reaches it);
- ``from lmrepro.x import y`` where ``y`` is a submodule counts as importing ``lmrepro.x.y``;
- the ``__init__.py`` of every package on the way (Python executes them on import).

Importing lmrepro modules by name at run time (``importlib.import_module``,
``__import__``) would be invisible here, so it is rejected: write an explicit import
(inside a function if it must stay lazy).

    python -m lmrepro.codedeps lmrepro.stages.rec_train   # one path per line
"""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path

from lmrepro.errors import LmreproError

PACKAGE = "lmrepro"
SRC = Path(__file__).resolve().parent.parent  # .../src
DYNAMIC_IMPORTS = {"import_module", "__import__"}


def module_file(name: str, src: Path = SRC) -> Path | None:
    """The source file of module ``name`` under ``src`` (package -> its __init__.py)."""
    base = src.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _is_package(name: str, src: Path) -> bool:
    return (src.joinpath(*name.split(".")) / "__init__.py").is_file()


def _resolve_relative(current: str, is_package: bool, level: int, module: str | None) -> str:
    parts = current.split(".") if is_package else current.split(".")[:-1]
    if level - 1 > len(parts) - 1:
        raise LmreproError(f"{current}: relative import beyond the top-level package")
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _dynamic_import(node: ast.Call) -> str | None:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    return name if name in DYNAMIC_IMPORTS else None


@lru_cache(maxsize=None)
def _imports(name: str, src: Path) -> tuple[str, ...]:
    """Modules of the package that module ``name`` imports directly (anywhere in it)."""
    path = module_file(name, src)
    if path is None:
        raise LmreproError(f"module {name} not found under {src}")
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(name, is_pkg, node.level, node.module) if node.level else node.module or ""
            found.append(base)
            # `from pkg import sub`: sub may be a submodule (imported) or a name in pkg
            found += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
        elif isinstance(node, ast.Call) and (how := _dynamic_import(node)):
            raise LmreproError(
                f"{path}:{node.lineno}: {how}() hides which modules run from the code inputs "
                "(lmrepro.codedeps); import the module explicitly"
            )
    own = [m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")]
    return tuple(sorted({m for m in own if module_file(m, src) is not None}))


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def module_closure(name: str, src: Path = SRC) -> list[str]:
    """Every package module that running ``name`` executes (itself and its packages included)."""
    if module_file(name, src) is None:
        raise LmreproError(f"module {name} not found under {src}")
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        parents = [p for p in _with_parents(current)[:-1] if module_file(p, src) is not None]
        todo += [*parents, *_imports(current, src)]
    return sorted(seen)


def code_files(name: str, src: Path = SRC) -> list[Path]:
    """Source files of :func:`module_closure`, sorted."""
    return sorted(module_file(m, src) for m in module_closure(name, src))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmrepro.codedeps", description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="+", help="dotted module names, e.g. lmrepro.stages.rec_train")
    parser.add_argument("--relative-to", type=Path, default=SRC.parent, help="print paths relative to this folder (default: the repository)")
    args = parser.parse_args(argv)
    try:
        files = sorted({f for m in args.modules for f in code_files(m)})
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for f in files:
        print(f.relative_to(args.relative_to.resolve()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
