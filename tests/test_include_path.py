"""--include-path task folders (YAML + jinja2 prompts beside the built-ins) and
entry-point plugins for scorers and extractors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit.core.errors import ConfigError
from evalkit.core.registry import load_entry_points, scorers
from evalkit.spec import include

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "my_tasks"  # the README's custom task


@pytest.fixture(autouse=True)
def _reset_include(monkeypatch):
    monkeypatch.delenv(include.ENV, raising=False)
    yield
    include.activate(None)


def _docs_input(data_dir: Path, n: int) -> list[str]:
    return [e["input"] for e in json.loads((data_dir / "bbh" / "sports_understanding.json").read_text())["examples"][:n]]


def test_readme_custom_task_runs(cli, tmp_path, data_dir, store_path):
    assert len((EXAMPLE / "sports_zeroshot.yaml").read_text().splitlines()) + \
        len((EXAMPLE / "sports_zeroshot.j2").read_text().splitlines()) <= 15
    out = tmp_path / "out"
    res = cli("run", "--model", "dummy", "--tasks", "sports_zeroshot,bbh_navigate", "--include-path", EXAMPLE,
              "--limit", "3", "--data-dir", data_dir, "--store", store_path, "--output", out)
    assert res.code == 0, res.err
    payload = json.loads((out / "results.json").read_text())
    assert set(payload["results"]) == {"sports_zeroshot", "bbh_navigate"}  # custom and built-in side by side
    samples = [json.loads(x) for x in (out / "samples" / "sports_zeroshot.jsonl").read_text().splitlines()]
    for s, text in zip(samples, _docs_input(data_dir, 3)):
        assert s["prompt"] == f"{text}\nAnswer yes or no:"
    assert payload["config"]["include_path"] == [str(EXAMPLE)]
    assert payload["config"]["task_specs"]["sports_zeroshot"]["prompt_hash"]


def test_env_include_path_and_tasks_listing(cli, data_dir, monkeypatch):
    monkeypatch.setenv(include.ENV, str(EXAMPLE))
    res = cli("tasks")
    assert res.code == 0 and "sports_zeroshot" in res.out and "bbh_navigate" in res.out


def test_flag_include_path_lists_tasks(cli):
    res = cli("tasks", "--include_path", EXAMPLE)
    assert res.code == 0 and "sports_zeroshot" in res.out


def test_task_name_collision_names_both_files(cli, tmp_path, data_dir, store_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "nav.yaml").write_text("task: bbh_navigate\ndataset: {path: bbh/navigate.json, format: json_examples}\n"
                                     "prompt: x.j2\n")
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--include-path", folder, "--limit", "1",
              "--data-dir", data_dir, "--store", store_path)
    assert res.code != 0
    assert str(folder / "nav.yaml") in res.err and "bbh.yaml" in res.err and "already defined" in res.err


def test_prompt_collision_names_both_files(cli, tmp_path, data_dir, store_path):
    folder = tmp_path / "mine"
    shutil.copytree(EXAMPLE, folder)
    (folder / "bbh_cot.j2").write_text("{{ doc.input }}")
    res = cli("run", "--model", "dummy", "--tasks", "sports_zeroshot", "--include-path", folder, "--limit", "1",
              "--data-dir", data_dir, "--store", store_path)
    assert res.code != 0
    assert str(folder / "bbh_cot.j2") in res.err and "prompts/bbh_cot.j2" in res.err


def test_missing_include_folder(cli, tmp_path, data_dir, store_path):
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--include-path", tmp_path / "nope",
              "--data-dir", data_dir, "--store", store_path)
    assert res.code != 0 and "--include-path" in res.err and "nope" in res.err


def test_lm_eval_bridge_gets_the_same_folders():
    from evalkit.evaluators.lm_eval_bridge import include_paths

    include.activate([str(EXAMPLE)])
    assert str(EXAMPLE) in include_paths({})


PLUGIN = '''
from evalkit.core.registry import scorers
from evalkit.core.types import Score


@scorers.register("{name}")
def yes_anywhere(extracted, target, doc, **_):
    """1 when the reference answer appears anywhere in the output."""
    return Score(float(str(target).lower() in str(extracted).lower()), extracted)
'''


def _install_plugin(tmp_path: Path, monkeypatch, module: str, scorer_name: str) -> None:
    (tmp_path / f"{module}.py").write_text(PLUGIN.replace("{name}", scorer_name))
    info = tmp_path / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[evalkit.plugins]\n{module} = {module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_entry_point_plugin_scorer(cli, tmp_path, data_dir, store_path, monkeypatch):
    _install_plugin(tmp_path, monkeypatch, "evalkit_demo_plugin", "contains_answer")
    monkeypatch.setattr(scorers, "_items", dict(scorers._items))  # undone after the test
    assert "evalkit_demo_plugin" in load_entry_points()
    folder = tmp_path / "tasks"
    shutil.copytree(EXAMPLE, folder)
    yaml = folder / "sports_zeroshot.yaml"
    yaml.write_text(yaml.read_text().replace("scorer: exact_match", "scorer: contains_answer"))
    res = cli("run", "--model", "dummy", "--tasks", "sports_zeroshot", "--include-path", folder, "--limit", "2",
              "--data-dir", data_dir, "--store", store_path)
    assert res.code == 0, res.err


def test_plugin_cannot_replace_a_builtin(tmp_path, monkeypatch):
    _install_plugin(tmp_path, monkeypatch, "evalkit_bad_plugin", "exact_match")
    monkeypatch.setattr(scorers, "_items", dict(scorers._items))
    with pytest.raises(ConfigError, match="evalkit_bad_plugin.*'exact_match', which already exists"):
        load_entry_points()
