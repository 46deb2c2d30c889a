"""Pinned data: every result records what its data was (a content hash of the
local files read, or the hub revision), and compare warns when they differ."""
from __future__ import annotations

import hashlib
import json
import shutil

from evalkit.spec.datahash import pinned_data
from evalkit.spec.taskspec import DatasetSpec, TaskSpec

TASK = "bbh_navigate"


def _run(cli, data_dir, store_path, out):
    res = cli("run", "--model", "dummy", "--tasks", TASK, "--limit", "5", "--data-dir", data_dir,
              "--store", store_path, "--output", out)
    assert res.code == 0, res.err
    return json.loads((out / "results.json").read_text())


def _mirror(src, dst):
    for rel in ("bbh/navigate.json", "bbh/cot-prompts/navigate.txt"):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / rel, dst / rel)
    return dst


def test_result_records_hash_of_files_read(cli, tmp_path, data_dir, store_path):
    payload = _run(cli, data_dir, store_path, tmp_path / "a")
    spec = payload["config"]["task_specs"][TASK]
    assert spec["data_files"] == ["bbh/navigate.json", "bbh/cot-prompts/navigate.txt"]
    # recomputed independently: sha256 over (name, sha256 of bytes) lines
    h = hashlib.sha256()
    for rel in spec["data_files"]:
        h.update(f"{rel}\0{hashlib.sha256((data_dir / rel).read_bytes()).hexdigest()}\n".encode())
    assert spec["data_sha256"] == h.hexdigest()


def test_compare_warns_when_data_differs(cli, tmp_path, data_dir, store_path):
    a = _run(cli, data_dir, store_path, tmp_path / "a")
    same = _run(cli, _mirror(data_dir, tmp_path / "copy"), store_path, tmp_path / "same")
    assert same["config"]["task_specs"][TASK]["data_sha256"] == a["config"]["task_specs"][TASK]["data_sha256"]
    edited = _mirror(data_dir, tmp_path / "edited")
    f = edited / "bbh" / "navigate.json"
    data = json.loads(f.read_text())
    data["examples"][0]["target"] = "No" if data["examples"][0]["target"] == "Yes" else "Yes"
    f.write_text(json.dumps(data))
    b = _run(cli, edited, store_path, tmp_path / "b")
    res = cli("compare", a["run_id"], b["run_id"], "--store", store_path)
    assert "warning: the data files differ" in res.out and TASK in res.out
    res = cli("compare", a["run_id"], same["run_id"], "--store", store_path)
    assert "data files differ" not in res.out


def test_hub_dataset_revision_is_pinned():
    spec = TaskSpec(name="t", dataset=DatasetSpec(hub="org/data", revision="3f2a9c1"), prompt="x.j2")
    assert pinned_data(spec, None) == {"data_hub": "org/data", "data_revision": "3f2a9c1"}
    other = spec.model_copy(update={"dataset": spec.dataset.model_copy(update={"revision": "main"})})
    assert other.spec_hash() != spec.spec_hash()


def test_hub_revision_reaches_load_dataset(monkeypatch):
    import sys
    import types

    seen = {}
    fake = types.ModuleType("datasets")
    fake.load_dataset = lambda *a, **kw: seen.update(args=a, kw=kw) or [{"input": "q", "target": "a"}]
    monkeypatch.setitem(sys.modules, "datasets", fake)
    from evalkit.spec.loaders import load_docs

    docs = load_docs(DatasetSpec(hub="org/data", hub_name="cfg", revision="3f2a9c1"), None)
    assert docs[0].fields == {"input": "q", "target": "a"}
    assert seen == {"args": ("org/data", "cfg"), "kw": {"split": "test", "revision": "3f2a9c1"}}
