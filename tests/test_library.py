"""The library's shape: each module of scripts/saepipe/ can be read alone (no two import each
other, directly or through others)."""

import ast
from pathlib import Path

from conftest import REPO

LIBRARY = REPO / "scripts" / "saepipe"


def library_imports(path: Path) -> set[str]:
    """The saepipe modules a module imports, at its top or inside its functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:  # from .x import y, from . import x
            found |= {node.module.split(".")[0]} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("saepipe"):
            found |= {node.module.split(".")[1]} if "." in node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("saepipe.")}
    return {name for name in found if (path.parent / f"{name}.py").exists()}


def import_graph(folder: Path) -> dict[str, set[str]]:
    return {path.stem: library_imports(path) for path in sorted(folder.glob("*.py"))}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (its modules, the first repeated at the end), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            if cycle := visit(imported, [*path, module]):
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        if cycle := visit(module, []):
            return cycle
    return None


def test_no_two_library_modules_import_each_other():
    cycle = find_cycle(import_graph(LIBRARY))
    assert cycle is None, f"import cycle in scripts/saepipe/: {' -> '.join(cycle)}"


def test_the_cycle_finder_sees_a_cycle_through_a_third_module_and_inside_a_function(tmp_path):
    (tmp_path / "a.py").write_text("from .b import f\n")
    (tmp_path / "b.py").write_text("def f():\n    from . import c\n")
    (tmp_path / "c.py").write_text("from saepipe.a import g\n")
    assert find_cycle(import_graph(tmp_path)) == ["a", "b", "c", "a"]
    (tmp_path / "c.py").write_text("import numpy\n")
    assert find_cycle(import_graph(tmp_path)) is None


def test_training_is_shared_by_the_autoencoder_and_the_classifier():
    """One epoch loop: the refine classifier trains through `training`, not the autoencoder's module."""
    graph = import_graph(LIBRARY)
    assert "training" in graph["refine"] and "model" not in graph["refine"]
    assert "model" not in graph["checkpoint"] and "training" not in graph["checkpoint"]


def test_no_script_is_over_60_lines():
    """Scripts read the rule's files, call the library and write: the work is in the library."""
    long = {path.name: n for path in (REPO / "scripts").glob("*.py")
            if (n := len(path.read_text().splitlines())) > 60}
    assert not long, f"scripts over 60 lines: {long}"


def test_library_functions_take_at_most_four_settings_by_position():
    """More than four, and the rest are keyword-only: a call names what it sets."""
    crowded = []
    for path in sorted(LIBRARY.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                positional = [a.arg for a in node.args.posonlyargs + node.args.args if a.arg not in ("self", "cls")]
                if len(positional) > 4:
                    crowded.append(f"{path.stem}.{node.name}({', '.join(positional)})")
    assert not crowded, f"more than four positional parameters: {crowded}"
