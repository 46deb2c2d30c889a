"""A missing optional package is one `error:` line naming the install command."""
from __future__ import annotations

import subprocess
import sys

import pytest

from evalkit.core.errors import MissingDependency
from evalkit.core.registry import Registry

# Runs the CLI with an import hook that hides one package, as on a machine without it.
HIDE = """
import sys, importlib.abc
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == {pkg!r} or name.startswith({pkg!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Hide())
for m in [m for m in sys.modules if m == {pkg!r} or m.startswith({pkg!r} + ".")]:
    del sys.modules[m]
sys.argv = ["evalkit"] + {args!r}
from evalkit.cli import main
main()
"""


@pytest.mark.parametrize("pkg,args,hint", [
    ("torch", ["run", "--model", "hf:/nonexistent", "--tasks", "bbh_navigate", "--limit", "1"], "make install"),
    ("vllm", ["run", "--model", "vllm:MODELDIR", "--tasks", "bbh_navigate", "--limit", "1"], "make install-vllm"),
    ("sentence_transformers", ["run", "--model", "st:/nonexistent", "--tasks", "scifact", "--limit", "1"],
     "evalkit[retrieval]"),
    ("onnxruntime", ["run", "--model", "minilm", "--model-args", "backend=onnx", "--tasks", "scifact", "--limit", "1"],
     "evalkit[retrieval-runtimes]"),
])
def test_cli_names_the_install_command(pkg, args, hint, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    args = [a.replace("MODELDIR", str(tmp_path / "model")) for a in args]
    proc = subprocess.run([sys.executable, "-c", HIDE.format(pkg=pkg, args=args + ["--store", str(tmp_path / "s.db")])],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error:"), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert f"'{pkg}'" in lines[-1] and hint in lines[-1]


def test_registry_turns_a_missing_module_into_one_line():
    reg = Registry("backend")
    reg.register_lazy("ghost", "evalkit_no_such_package_xyz.mod:Thing")
    with pytest.raises(MissingDependency, match="install it with: pip install evalkit_no_such_package_xyz"):
        reg.get("ghost")
