"""The walls of the data path, held by reading every module's imports.

task spec -> requests -> backend -> responses -> aggregator/critic -> scorer -> metrics -> store -> report

Each package may import only the packages below it on that path (and ``core``).
Imports inside functions count too: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "evalkit"

# package -> packages it must never import (evalkit.<name>, any depth).
FORBIDDEN = {
    "core": {"spec", "benchmarks", "models", "run", "evaluators", "loops", "scoring", "sandbox", "store", "report", "cli",
             "api"},
    "scoring": {"models", "store", "run", "evaluators", "loops", "report", "cli", "api"},
    "benchmarks": {"models", "store", "run", "evaluators", "loops", "report", "cli", "api"},
    "models": {"spec", "scoring", "benchmarks", "store", "run", "evaluators", "loops", "report", "cli", "api"},
    "store": {"run", "evaluators", "loops", "report", "cli", "api", "models", "scoring", "benchmarks"},
    "sandbox": {"spec", "benchmarks", "models", "run", "evaluators", "loops", "scoring", "store", "report", "cli", "api"},
    "spec": {"models", "run", "evaluators", "loops", "store", "report", "cli", "api"},
    "report": {"spec", "benchmarks", "models", "run", "evaluators", "loops", "scoring", "sandbox", "cli", "api"},
    "evaluators": {"report", "cli", "api"},
    "loops": {"report", "cli", "api", "store"},
    "run": {"cli", "api"},
}
# Loops reach a model only through the protocol they are handed.
LOOPS_MAY_IMPORT_FROM_MODELS = {"evalkit.models.base"}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(path: Path, module: str) -> set[str]:
    """Every evalkit module named by an import anywhere in the file (functions included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("evalkit"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base if is_pkg else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("evalkit"):
                found.add(mod)
                found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def top_level_imports(path: Path, module: str) -> set[str]:
    """Imports executed at import time (module body, not inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
            if isinstance(sub, ast.Import):
                found.update(a.name for a in sub.names if a.name.startswith("evalkit"))
            elif isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("evalkit"):
                found.add(sub.module)
                found.update(f"{sub.module}.{a.name}" for a in sub.names)
    return found


MODS = modules()


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def resolve(name: str) -> str | None:
    """The evalkit module that ``name`` (a module or module.attribute) lives in."""
    while name and name not in MODS:
        name = name.rpartition(".")[0]
    return name or None


@pytest.mark.parametrize("module", sorted(MODS))
def test_imports_respect_the_walls(module):
    pkg = package_of(module)
    banned = FORBIDDEN.get(pkg, set())
    bad = []
    for name in imports_of(MODS[module], module):
        target = resolve(name)
        if target is None:
            continue
        tpkg = package_of(target)
        if tpkg in banned:
            bad.append(target)
        if pkg == "loops" and tpkg == "models" and target not in LOOPS_MAY_IMPORT_FROM_MODELS:
            bad.append(target)
    assert not bad, f"{module} ({pkg}) imports {sorted(set(bad))}, which its layer must not use"


def test_no_import_cycles():
    """No cycle among modules through imports done at import time."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODS.items():
        for name in top_level_imports(path, module):
            target = resolve(name)
            if target and target != module and not module.startswith(target + "."):
                # a package importing its own submodule, or a module its own package, is how
                # plug-in packages register; anything else forms a real cycle
                if not target.startswith(module + "."):
                    graph[module].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in list(MODS):
        if v not in index:
            strong(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("module", sorted(MODS))
def test_no_module_is_too_long(module):
    lines = MODS[module].read_text(encoding="utf-8").count("\n")
    assert lines <= 520, f"{MODS[module]} has {lines} lines; split it by concept (limit ~500)"


def test_layers_are_the_documented_ones():
    """Every package is one the architecture doc names, so the walls cover it."""
    pkgs = {package_of(m) for m in MODS if m.count(".") >= 1}
    doc = (PKG.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    for p in pkgs:
        assert f"`{p}" in doc, f"package evalkit.{p} is not described in docs/architecture.md"


def test_a_name_registered_twice_is_an_error():
    from evalkit.core.errors import ConfigError
    from evalkit.core.registry import Registry

    reg = Registry("widget")

    @reg.register("a")
    def one():
        pass

    with pytest.raises(ConfigError, match="registered twice"):
        @reg.register("a")
        def two():
            pass


def test_a_lazy_entry_may_be_filled_by_the_object_it_names():
    from evalkit.core.registry import Registry

    reg = Registry("widget")
    reg.register_lazy("x", f"{__name__}:_Lazy")
    reg.register("x")(_Lazy)
    assert reg.get("x") is _Lazy


class _Lazy:
    pass


def test_every_builtin_plugin_loads():
    """Importing every plug-in package registers each name once (a clash raises at import)."""
    from evalkit.core import registry

    registry._load_plugins()
    for reg in (registry.backends, registry.extractors, registry.scorers, registry.aggregators, registry.loaders,
                registry.fewshot_sources, registry.evaluators, registry.storages, registry.rankers, registry.loops,
                registry.verifiers, registry.task_sources, registry.sinks):
        assert reg.names(), reg.kind
