"""The house: one `baton` namespace, parts that import only downwards, no import circles.

The layer rule lives in pyproject.toml (`[tool.baton.layers]`); this test reads every product
module's imports (as text, with `ast`, so nothing is executed) and holds the code to it.
"""
from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]
LAYERS: list[list[str]] = PYPROJECT["tool"]["baton"]["layers"]["order"]
MAX_LINES = 400


def product_modules() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            yield ".".join([package, *parts]), path


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                # `from baton.core import logs` imports the module baton.core.logs
                submodule = f"{module}.{alias.name}"
                found.add(submodule if submodule in known else module)
    return {m for m in found if m == "baton" or m.startswith("baton.")}


MODULES = dict(product_modules())
GRAPH = {name: {m for m in imports_of(name, path, set(MODULES)) if m in MODULES and m != name}
         for name, path in MODULES.items()}


def part_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_of(part: str | None) -> int | None:
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    return None


def test_every_part_has_a_layer_and_a_folder() -> None:
    parts = {p for layer in LAYERS for p in layer}
    mapped = {package.split(".")[1] for package in PACKAGE_DIRS if package != "baton"}
    assert parts == mapped


def test_every_package_folder_is_installed() -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert found == listed, "list the new subpackage in pyproject's [tool.setuptools] packages"


def test_imports_point_down() -> None:
    upward = []
    for module, targets in GRAPH.items():
        here = layer_of(part_of(module))
        for target in targets:
            there = layer_of(part_of(target))
            if here is None or there is None or part_of(module) == part_of(target):
                continue
            if there <= here:  # up, or sideways into a sibling of the same layer
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_core_imports_nothing_else_of_baton() -> None:
    assert {t for m, ts in GRAPH.items() if part_of(m) == "core"
            for t in ts if part_of(t) != "core"} == set()


def test_no_import_circles() -> None:
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert circles == []


def test_product_modules_stay_small() -> None:
    """~400 lines at most; a module that must be longer says why in its docstring."""
    long = []
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").count("\n")
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if lines > MAX_LINES and "longer than" not in doc:
            long.append(f"{name}: {lines} lines")
    assert long == []


def test_nothing_installs_outside_the_baton_namespace() -> None:
    assert all(p == "baton" or p.startswith("baton.") for p in PYPROJECT["tool"]["setuptools"]["packages"])
    assert "py-modules" not in PYPROJECT["tool"]["setuptools"]
    assert PYPROJECT["project"]["scripts"] == {"baton": "baton.app.cli:main"}
    assert PYPROJECT["project"]["name"] != "baton"  # an unrelated project on the package index
