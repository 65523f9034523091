"""Fingerprints of the code each study's runs execute, recorded with the study's version.

A run's cache key holds its configuration and its study's ``STUDY_VERSION``, not its code: a
change that alters what a run computes must come with a bump of ``STUDY_VERSION``, or rows
computed by the old code are reused. This module turns that into a decision nobody can skip.

A study is a module of ``dreg_utils/studies`` that assigns ``STUDY_VERSION`` (the ablations
reuse the version and the run functions of the study they vary). Its fingerprint covers every
``dreg_utils`` module that the study's module imports, directly or through other modules, and
the packages above them (``dreg_utils.book`` excluded: presentation only): each module's
syntax tree without docstrings, so whitespace, comments and docstrings do not count.

``code_fingerprints.json`` beside this file records, per study, the fingerprint and the
``STUDY_VERSION`` it was recorded at. ``tests/test_code_fingerprints.py`` fails while they
differ from the code's; then either bump ``STUDY_VERSION`` in the study's module (results
change) and record, or record alone (results unchanged, a deliberate statement)::

    python -m dreg_utils.studies.code_fingerprints --record

Without ``--record`` the command prints what changed and exits 1 when anything did.
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

PACKAGE = "dreg_utils"
ROOT = Path(__file__).resolve().parents[2]  # the folder holding dreg_utils/
RECORD = Path(__file__).with_name("code_fingerprints.json")
EXCLUDED = ("dreg_utils.book",)  # presentation: never part of what a run computes
RECORD_COMMAND = "python -m dreg_utils.studies.code_fingerprints --record"


def module_file(name: str) -> Path | None:
    """The source file of the ``dreg_utils`` module ``name`` (a package's ``__init__.py``), or None."""
    base = ROOT.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _tree(name: str) -> ast.Module:
    return ast.parse(module_file(name).read_text(), filename=str(module_file(name)))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` without bare string statements (docstrings); an emptied body becomes ``pass``."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            kept = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                            and isinstance(s.value.value, str))]
            node.body = kept or [ast.Pass()]
    return tree


def _canonical(node: object) -> str:
    """A text form of a syntax tree that no Python version's defaults change: node types and
    their non-empty fields, no positions."""
    if isinstance(node, ast.AST):
        fields = [f"{name}={_canonical(value)}" for name, value in ast.iter_fields(node)
                  if value is not None and value != []]
        return f"{type(node).__name__}({', '.join(fields)})"
    if isinstance(node, list):
        return "[" + ", ".join(_canonical(value) for value in node) + "]"
    return repr(node)


def source_hash(source: str) -> str:
    """16 hex digits of the SHA-256 of a module's syntax tree without docstrings."""
    return hashlib.sha256(_canonical(_strip_docstrings(ast.parse(source))).encode()).hexdigest()[:16]


def _package_of(name: str) -> str:
    return name if module_file(name) and module_file(name).name == "__init__.py" else name.rpartition(".")[0]


def imports(name: str) -> set[str]:
    """The ``dreg_utils`` modules that module ``name`` imports anywhere in its source (a name
    imported from a package counts as its submodule where there is one, else as the package)."""
    found = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = _package_of(name).split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] == PACKAGE and module_file(m) is not None}


def closure(name: str) -> list[str]:
    """Module ``name`` and every ``dreg_utils`` module it imports, directly or not, with the
    packages above each; :data:`EXCLUDED` left out. Sorted."""
    seen, todo = set(), [name]
    while todo:
        module = todo.pop()
        if module in seen or any(module == e or module.startswith(f"{e}.") for e in EXCLUDED):
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))] + sorted(imports(module))
    return sorted(seen)


def study_version(name: str) -> str | None:
    """The ``STUDY_VERSION`` that module ``name`` assigns (read from its source), or None."""
    for node in _tree(name).body:
        if (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "STUDY_VERSION"
                                                  for t in node.targets)
                and isinstance(node.value, ast.Constant)):
            return str(node.value.value)
    return None


def studies() -> list[str]:
    """The study modules: those of ``dreg_utils/studies`` that assign ``STUDY_VERSION``."""
    names = (f"{PACKAGE}.studies.{path.stem}" for path in sorted((ROOT / PACKAGE / "studies").glob("*.py")))
    return [name for name in names if study_version(name) is not None]


def _relative(name: str) -> str:
    return module_file(name).relative_to(ROOT).as_posix()


def fingerprints() -> dict:
    """The current record: each module's hash, and per study its version, modules and fingerprint."""
    record: dict = {"modules": {}, "studies": {}}
    for study in studies():
        modules = [_relative(m) for m in closure(study)]
        for path in modules:
            if path not in record["modules"]:
                record["modules"][path] = source_hash((ROOT / path).read_text())
        digest = hashlib.sha256(json.dumps({p: record["modules"][p] for p in modules}, sort_keys=True).encode())
        record["studies"][study] = {"study_version": study_version(study),
                                    "fingerprint": digest.hexdigest()[:16], "modules": modules}
    record["modules"] = dict(sorted(record["modules"].items()))
    return record


def differences(recorded: dict, current: dict) -> list[str]:
    """One line per study whose recorded fingerprint or version differs from ``current``,
    naming the changed modules and what to do."""
    lines = []
    for study, now in current["studies"].items():
        then = recorded.get("studies", {}).get(study)
        where = _relative(study)
        if then is None:
            lines.append(f"{study} has no recorded fingerprint: record it with `{RECORD_COMMAND}`")
        elif then["study_version"] != now["study_version"]:
            lines.append(f"{study}: STUDY_VERSION is {now['study_version']!r}, the record has "
                         f"{then['study_version']!r}: record the new code with `{RECORD_COMMAND}`")
        elif then["fingerprint"] != now["fingerprint"]:
            old = recorded.get("modules", {})
            changed = sorted({p for p in now["modules"] if old.get(p) != current["modules"][p]}
                             | (set(then["modules"]) ^ set(now["modules"])))
            lines.append(f"{study}: the code its runs execute changed since it was recorded at "
                         f"STUDY_VERSION {now['study_version']!r} ({', '.join(changed)}): bump "
                         f"STUDY_VERSION in {where} if results change, or record that they do not "
                         f"with `{RECORD_COMMAND}`")
    lines += [f"{study} is recorded but is no longer a study: record with `{RECORD_COMMAND}`"
              for study in recorded.get("studies", {}) if study not in current["studies"]]
    return lines


def read_record(path: Path = RECORD) -> dict:
    """The recorded fingerprints (an empty record when the file does not exist)."""
    return json.loads(path.read_text()) if path.exists() else {"modules": {}, "studies": {}}


def main(argv: Sequence[str] | None = None, path: Path = RECORD) -> int:
    """Print the studies whose code changed since recorded (exit status 1 if any); with
    ``--record``, write the current fingerprints to ``path``."""
    parser = argparse.ArgumentParser(prog="python -m dreg_utils.studies.code_fingerprints",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", action="store_true",
                        help="record the current code of every study (after bumping STUDY_VERSION "
                             "where results change)")
    args = parser.parse_args(argv)
    current = fingerprints()
    if args.record:
        path.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(current['studies'])} studies ({len(current['modules'])} modules) in {path}")
        return 0
    lines = differences(read_record(path), current)
    print("\n".join(lines) if lines else f"every study's code matches {path.name}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
