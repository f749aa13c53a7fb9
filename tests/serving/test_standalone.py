"""serving/ stands alone: no module imports the pipelines, components or models, and its modules
import one another without cycles (lazy and type-checking imports count too)."""
from __future__ import annotations

import ast
import os

from tests.serving.helpers import REPO

FOREIGN = {"pipelines", "components", "models"}


def _modules() -> dict[str, str]:
    """Module name → file of every module under serving/."""
    modules = {}
    for root, _, files in os.walk(os.path.join(REPO, "serving")):
        for file in files:
            if file.endswith(".py"):
                path = os.path.join(root, file)
                parts = os.path.relpath(path, REPO)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts.pop()
                modules[".".join(parts)] = path
    return modules


def _imports(module: str, path: str, is_package: bool) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in the file, wherever it is."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            found.append((base, node.lineno))
            # `from package import module` imports that module too.
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        targets = {name for name, _ in _imports(module, path, path.endswith("__init__.py"))}
        graph[module] = {t for t in targets if t in modules and t != module}
    return graph


def test_serving_imports_no_pipeline_component_or_model_code():
    offending = []
    for module, path in _modules().items():
        for name, line in _imports(module, path, path.endswith("__init__.py")):
            if name.split(".")[0] in FOREIGN:
                offending.append(f"{os.path.relpath(path, REPO)}:{line} imports {name}")
    assert offending == []


def test_serving_modules_have_no_import_cycle():
    graph = _graph()
    assert graph["serving.server"], "the import graph was not read"
    cycles = []
    state: dict[str, str] = {}  # "open" while on the depth-first path, then "done"

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_layers_import_only_downwards():
    """config ← core ← api ← server: the core never imports the request APIs, and the config
    modules import neither."""
    below = {"serving.config": set(), "serving.core": {"serving.config"},
             "serving.api": {"serving.config", "serving.core"}}
    upward = []
    for module, targets in _graph().items():
        layer = next((p for p in below if module.startswith(p + ".")), None)
        if layer is None:
            continue
        for target in targets:
            other = next((p for p in below if target.startswith(p + ".")), target)
            if other != layer and other not in below[layer]:
                upward.append(f"{module} imports {target}")
    assert upward == []
