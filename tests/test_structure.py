"""The code's shape: no import cycles among Shipyard's modules, a CLI that starts without
TensorFlow, and a model server that stands alone."""
import ast
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("pipelines", "components", "models", "serving")


def _modules() -> dict[str, str]:
    """Dotted module name → file, for every module of the product packages."""
    found = {}
    for package in PACKAGES:
        for root, _, files in os.walk(os.path.join(REPO, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(root, name)
                    dotted = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".")
                    found[dotted.removesuffix(".__init__")] = path
    return found


def _imports(path: str, module: str, known: dict[str, str]) -> set[str]:
    """The product modules `module` imports, at any depth of its code (lazy imports too)."""
    package = module if known[module].endswith("__init__.py") else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            # The longest known prefix: `from a.b import c` is a.b.c when c is a module.
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: _imports(path, module, known) for module, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    sys.setrecursionlimit(10000)
    for node in graph:
        if node not in index:
            visit(node)
    return result


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_serving_imports_nothing_from_the_rest():
    graph = _graph()
    outside = {(module, target) for module, targets in graph.items()
               if module.startswith("serving") for target in targets
               if not target.startswith("serving")}
    assert outside == set()


def test_models_and_components_do_not_import_the_cli_layer():
    graph = _graph()
    # models/ may read a family's TensorFlow-free settings; nothing else of pipelines/.
    upward = {(module, target) for module, targets in graph.items()
              if module.startswith(("models", "components")) for target in targets
              if target.startswith("pipelines")
              and not (target.endswith(".settings") or target == "pipelines")}
    assert upward == set()


def test_the_cli_starts_without_tensorflow():
    # numpy too: it alone is a second of start-up, paid by every `shipyard runs`.
    code = ("import sys, pipelines.cli; pipelines.cli.build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'tensorflow', 'tfx', 'tf_keras', 'numpy'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[]"
