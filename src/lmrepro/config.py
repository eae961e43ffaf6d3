"""Parameters: loading, profile overlays, schema validation and typed sections.

params.yaml holds every knob (the default CPU profile). A profile is an overlay file
deep-merged on top. One JSON schema (written as YAML) per top-level section lives in
workflow/schemas/params/<section>.schema.yaml; a section without a schema is an unknown
key. Snakemake validates the merged config before any job starts, and every stage
validates again, so a DVC run gets the same check.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Mapping

import jsonschema
import yaml

from lmrepro.errors import LmreproError
from lmrepro.paths import repo_root, schema_dir


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """PyYAML's safe loader that also reads YAML 1.2 floats without a dot (``1e-05``).
    The C loader (libyaml) where PyYAML has it: every stage reads params.yaml and the
    schemas, and the pure-Python parser spent about a second of each stage's start there.

    Why: `dvc exp run -S` rewrites params.yaml with ruamel (YAML 1.2), which writes 1e-5
    as ``1e-05``; PyYAML (YAML 1.1) would read that back as a string and the schema check
    would reject a value the user never changed.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise LmreproError(f"{path}: parameter file not found")
    try:
        data = yaml.load(path.read_text(), Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        raise LmreproError(f"{path}: not valid YAML ({err})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise LmreproError(f"{path}: top level must be a mapping of sections")
    return data


def deep_merge(base: Mapping, overlay: Mapping) -> dict:
    """Overlay wins; mappings merge recursively; lists and scalars are replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_params(*files: str | Path) -> dict:
    """params.yaml (or the given files, later ones overlaying earlier ones)."""
    files = files or (repo_root() / "params.yaml",)
    merged: dict = {}
    for f in files:
        merged = deep_merge(merged, load_yaml(f))
    return merged


def profile_file(profile: str, root: Path | None = None) -> Path:
    path = (root or repo_root()) / "workflow" / "profiles" / profile / "params.yaml"
    if not path.is_file():
        raise LmreproError(f"unknown profile {profile!r}: {path} does not exist")
    return path


def params_schema(root: Path | None = None) -> dict:
    """The whole params schema: one property per section file, nothing else allowed."""
    folder = schema_dir(root)
    sections = {}
    for f in sorted(folder.glob("*.schema.yaml")):
        sections[f.name.removesuffix(".schema.yaml")] = load_yaml(f)
    if not sections:
        raise LmreproError(f"{folder}: no parameter schemas found")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": sections,
        "required": sorted(sections),
        "additionalProperties": False,
    }


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def non_finite_numbers(node: Any, prefix: str = "") -> list[tuple[str, float]]:
    """(dotted key, value) of every inf or nan; list items are named key.<index>.

    YAML's ``.inf`` / ``.nan`` are valid JSON-schema numbers and pass every ``minimum``
    check (nan compares false, inf is above any bound), then crash or silently misbehave
    deep in training (an inf epoch count, a nan learning rate). No parameter has a use for
    them, so they are rejected for every key, whatever its schema says.
    """
    if isinstance(node, float):
        return [] if math.isfinite(node) else [(prefix or "<top level>", node)]
    if isinstance(node, Mapping):
        items = node.items()
    elif isinstance(node, (list, tuple)):
        items = enumerate(node)
    else:
        return []
    return [bad for key, value in items for bad in non_finite_numbers(value, f"{prefix}.{key}" if prefix else str(key))]


def validate_params(params: Mapping, root: Path | None = None, source: str = "params") -> None:
    """Raise LmreproError naming every bad key (unknown, missing, wrong type or range, inf/nan)."""
    validator = jsonschema.Draft202012Validator(params_schema(root))
    errors = sorted(validator.iter_errors(dict(params)), key=lambda e: list(map(str, e.absolute_path)))
    bad_numbers = non_finite_numbers(dict(params))
    unknown = [] if errors else unknown_datasets(params)
    if not errors and not bad_numbers and not unknown:
        return
    lines = [f"  {key}: {value!r} is not a finite number" for key, value in bad_numbers[:20]] + unknown
    for err in errors[:20]:
        where = _key_path(err)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            prefix = f"{where}." if err.absolute_path else ""
            lines.append("  unknown key(s): " + ", ".join(f"{prefix}{k}" for k in extra))
        elif err.validator == "required":
            lines.append(f"  {where}: {err.message}")
        else:
            lines.append(f"  {where}: {err.message}")
    raise LmreproError(f"{source}: invalid parameters:\n" + "\n".join(lines))


def unknown_datasets(params: Mapping) -> list[str]:
    """Dataset names that no entry defines: data.rec.datasets must name data.rec.sources
    entries and rec.datasets built ones (a schema enum would make a dataset code)."""
    data_rec = (params.get("data") or {}).get("rec") or {}
    sources = set(data_rec.get("sources") or {})
    built = list(data_rec.get("datasets") or [])
    lines = [f"  data.rec.datasets: {name!r} has no data.rec.sources entry (known: {', '.join(sorted(sources))})"
             for name in built if sources and name not in sources]
    if "data" in params:  # a --cfg subset without the data section has nothing to check against
        lines += [f"  rec.datasets: {name!r} is not built (data.rec.datasets: {', '.join(built)})"
                  for name in (params.get("rec") or {}).get("datasets") or [] if name not in built]
    return lines


def get_key(params: Mapping, dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise LmreproError(f"params: key {dotted!r} not found (missing {part!r})")
        node = node[part]
    return node


def subset(params: Mapping, keys: list[str]) -> dict:
    """The given dotted keys as one nested mapping (what a stage is allowed to read)."""
    out: dict = {}
    for dotted in keys:
        value = get_key(params, dotted)
        node = out
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(value)
    return out


def flatten(params: Mapping, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def params_hash(params: Mapping) -> str:
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _unwrap_optional(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def from_dict(cls: type, mapping: Mapping, where: str = "params"):
    """Build config dataclass ``cls`` from a params section; nested dataclasses recurse.

    The schema already checked types; this catches drift between schema and dataclass
    with an error that names the key.
    """
    if not isinstance(mapping, Mapping):
        raise LmreproError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise LmreproError(f"{where}: unknown key(s) for {cls.__name__}: " + ", ".join(f"{where}.{k}" for k in unknown))
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, field in fields.items():
        if name not in mapping:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise LmreproError(f"{where}: missing key {where}.{name}")
            continue
        value = mapping[name]
        tp = _unwrap_optional(hints.get(name))
        if dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
            value = from_dict(tp, value, f"{where}.{name}")
        elif typing.get_origin(tp) in (tuple,) and isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise LmreproError(f"{where}: {err}") from err


def main(argv: list[str] | None = None) -> int:
    """`python -m lmrepro.config validate|render [--profile P]`: check or print params."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m lmrepro.config")
    parser.add_argument("action", choices=["validate", "render"])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--profile", default=None, help="overlay workflow/profiles/<profile>/params.yaml")
    args = parser.parse_args(argv)
    try:
        files = [args.params] + ([profile_file(args.profile)] if args.profile else [])
        params = load_params(*files)
        validate_params(params, source=" + ".join(map(str, files)))
    except LmreproError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.action == "render":
        sys.stdout.write(yaml.safe_dump(params, sort_keys=False))
    else:
        print(f"ok: {' + '.join(map(str, files))} is valid")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

