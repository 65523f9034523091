"""The package's layers: core numerics and data import neither the studies nor book support;
the studies do not import book support."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "dreg_utils"
FORBIDDEN = {"core": ("studies", "book"), "studies": ("book",), "book": ()}


def layer(path: Path) -> str:
    top = path.relative_to(PACKAGE).parts[0]
    return top if top in ("studies", "book") else "core"


def imported_layers(path: Path) -> set[str]:
    """The dreg_utils layers named by the module's imports (absolute or relative)."""
    names = set()
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            parts = base + (node.module.split(".") if node.module else [])
            targets = [parts + [alias.name] for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name.split(".") for alias in node.names]
        else:
            continue
        for target in targets:
            if target[:1] == ["dreg_utils"] and len(target) > 1 and target[1] in ("studies", "book"):
                names.add(target[1])
    return names


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_layer_imports_only_the_layers_below_it(path):
    assert not imported_layers(path) & set(FORBIDDEN[layer(path)])


def test_the_check_sees_relative_imports():
    assert imported_layers(PACKAGE / "book" / "page.py") == {"studies", "book"}  # .. and . imports
    assert imported_layers(PACKAGE / "studies" / "statistics_inputs.py") == {"studies"}  # from . import mnist
    assert imported_layers(PACKAGE / "train.py") == set()
