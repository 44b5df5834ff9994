"""The package's layers: each imports only from the layers below it (and from itself).

Read from the bottom: the foundations (errors, settings, statuses, optional imports), the
store, tracking (Workspace, Experiment, Run), execution (a script under its supervisor), compute
targets (local, Ray), the sources a view reads, what builds on them (AutoML, sweeps, framework
integrations), the view model, and what shows it (the notebook widget, the server). Where a
lower layer needs something of a higher one, the higher one provides it on import
(``runwidget.tracking.providers``). Imports inside ``if TYPE_CHECKING:`` are for annotations
only and are not counted; imports inside functions are.
"""

from __future__ import annotations

import ast
from pathlib import Path

import runwidget

PACKAGE = Path(runwidget.__file__).parent

# Bottom first. Modules of one layer may not import each other unless they are one package.
LAYERS: list[set[str]] = [
    {"errors"},
    {"_settings", "_version"},
    {"status", "_imports"},
    {"store"},
    {"tracking"},
    {"execution"},
    {"compute"},
    {"sources"},
    {"automl", "hyperdrive", "integrations"},
    {"view"},
    {"widgets", "server"},
    {"__init__", "__main__"},
]


def _part(module: str) -> str:
    """The top-level part of ``runwidget`` a module belongs to: ``store``, ``errors``..."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer_of(part: str) -> int:
    for i, layer in enumerate(LAYERS):
        if part in layer:
            return i
    raise AssertionError(f"runwidget.{part} is in no layer of tests/test_layers.py: add it")


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


def _imports(package: Path = PACKAGE) -> list[tuple[str, str, str]]:
    """``(importing part, imported part, file:line)`` for every runwidget import."""
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        part = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = _type_checking_only(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "runwidget":
                    names = [f"runwidget.{alias.name}" for alias in node.names]
                elif node.module.startswith("runwidget."):
                    names = [node.module]
                else:
                    continue
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name.split(".")[0] == "runwidget"]
            else:
                continue
            for name in names:
                found.append((part, _part(name), f"{relative}:{node.lineno}"))
    return found


def test_every_part_of_the_package_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()}
    parts = {p for p in parts if not p.startswith((".", "__pycache__"))}
    python_parts = {
        p for p in parts if (PACKAGE / p).is_dir() and any((PACKAGE / p).glob("*.py"))
    } | {p.stem for p in PACKAGE.glob("*.py")}
    for part in python_parts:
        _layer_of(part)


def test_each_layer_imports_only_from_below():
    upward = [
        f"{where}: runwidget.{source} imports runwidget.{target}"
        for source, target, where in _imports()
        if source != target and _layer_of(target) >= _layer_of(source)
    ]
    assert upward == []


def test_the_walk_counts_imports_in_functions_and_not_for_annotations(tmp_path: Path):
    module = tmp_path / "tracking" / "run.py"
    module.parent.mkdir()
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "from runwidget import status\n"
        "if TYPE_CHECKING:\n"
        "    import runwidget.view\n"
        "def cancel():\n"
        "    from runwidget.compute.target import resolve_target\n",
        encoding="utf-8",
    )
    assert _imports(tmp_path) == [
        ("tracking", "status", "tracking/run.py:2"),
        ("tracking", "compute", "tracking/run.py:6"),
    ]
