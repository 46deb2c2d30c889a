"""One registry for every kind of plug-in: tasks kinds, backends, extractors,
scorers, aggregators, critics, loaders.

Plug-ins register with a decorator in the module that defines them. Built-in
plug-in packages are imported on the first lookup, so ``import evalkit`` stays
cheap and heavy backends (torch, vllm) are imported only when asked for: a
backend registers a ``"module:attr"`` string with ``register_lazy``.
"""
from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable, Iterable

from evalkit.core.errors import ConfigError, missing_dependency

# Packages whose import registers the built-in plug-ins.
_PLUGIN_PACKAGES = (
    "evalkit.scoring",
    "evalkit.benchmarks",
    "evalkit.spec.loaders",
    "evalkit.spec.prompts",
    "evalkit.models",
    "evalkit.scoring.aggregators",
    "evalkit.evaluators",
    "evalkit.loops",
    "evalkit.store.embeddings",
    "evalkit.report.sinks",
)
ENTRY_POINT_GROUP = "evalkit.plugins"  # third-party packages: scorers, extractors, ... (see evalkit.spec.include)
_loaded = False
_loading_plugin: str | None = None  # the entry point being imported: its names must be new


def _load_plugins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in _PLUGIN_PACKAGES:
        importlib.import_module(name)
    load_entry_points()


def load_entry_points(group: str = ENTRY_POINT_GROUP) -> list[str]:
    """Import every module declared under ``[project.entry-points."evalkit.plugins"]``;
    its decorators register the plug-ins. Returns the entry point names loaded."""
    global _loading_plugin
    from importlib.metadata import entry_points

    loaded = []
    for ep in entry_points(group=group):
        _loading_plugin = f"{ep.name} = {ep.value}"
        try:
            ep.load()
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"evalkit plugin '{_loading_plugin}' failed to import ({type(exc).__name__}: {exc}); "
                              "fix or uninstall the package that declares it") from None
        finally:
            _loading_plugin = None
        loaded.append(ep.name)
    return loaded


def import_submodules(package: str) -> None:
    """Import every module of a plug-in package, so dropping a file in registers it."""
    import pkgutil

    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")


def suggest(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean ...?)' suffix naming the closest choices, or ''."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


class Registry:
    """Name -> plug-in for one kind of thing; unknown names suggest close ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            if _loading_plugin and name in self._items:
                raise ConfigError(f"evalkit plugin '{_loading_plugin}' registers {self.kind} '{name}', "
                                  "which already exists; give it another name")
            self._claim(name, obj)
            self._items[name] = obj
            return obj

        return deco

    def replace(self, name: str, obj: Any) -> Any:
        """Put ``obj`` under ``name`` whatever was there: for test doubles, which
        stand in for a plug-in on purpose; plug-ins themselves use ``register``."""
        self._items[name] = obj
        return obj

    def register_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:attr"``, imported on first ``get``."""
        self._claim(name, target)
        self._items[name] = target

    def _claim(self, name: str, obj: Any) -> None:
        """Two plug-ins under one name would make the winner depend on import
        order, so the second registration is an error -- except the module a
        lazy entry points at registering the very object it names."""
        old = self._items.get(name)
        if old is None or old is obj:
            return
        where = f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}"
        if isinstance(old, str) and old == where:
            return
        raise ConfigError(f"{self.kind} '{name}' is registered twice: by {_describe(old)} and by {_describe(obj)}; "
                          "rename one of them")

    def get(self, name: str) -> Any:
        _load_plugins()
        if name not in self._items:
            raise ConfigError(
                f"unknown {self.kind} '{name}'{suggest(name, self._items)}; "
                f"known: {', '.join(sorted(self._items))}"
            )
        obj = self._items[name]
        if isinstance(obj, str):
            module, _, attr = obj.partition(":")
            try:
                obj = getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as exc:
                if exc.name and exc.name.split(".")[0] == "evalkit":
                    raise
                raise missing_dependency(exc, f"{self.kind} '{name}'") from None
            self._items[name] = obj
        return obj

    def names(self) -> list[str]:
        _load_plugins()
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        _load_plugins()
        return name in self._items


def _describe(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


backends = Registry("backend")
extractors = Registry("answer extractor")
scorers = Registry("scorer")
aggregators = Registry("aggregator")
critics = Registry("critic")
loaders = Registry("dataset format")
fewshot_sources = Registry("few-shot source")
evaluators = Registry("task output_type")
# Storage that models use without importing the store (which sits above them on the data path).
storages = Registry("storage")
sinks = Registry("--log-to sink")
# Ways to pick among a doc's samples by executing them (--aggregate mpsc on code tasks).
rankers = Registry("sample ranker")
# Multi-round loops (ToRA, PAL, the CRITIC variants) and the tools CRITIC verifies with.
loops = Registry("evaluation loop")
verifiers = Registry("CRITIC verifier")
# Task names with a prefix (``lm_eval:NAME``) come from another harness's catalog.
task_sources = Registry("task source")
