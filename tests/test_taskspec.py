"""Every shipped task YAML validates; groups expand; bad specs fail with the file and field named."""
from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.core.errors import ConfigError
from evalkit.spec.taskspec import _parse_file, load_catalog, tasks_dir

BBH_SUBTASKS = 27


def test_every_shipped_yaml_loads_and_validates():
    files = sorted(tasks_dir().rglob("*.yaml"))
    assert files, "no task specs shipped"
    for f in files:
        tasks, groups = _parse_file(f)
        assert tasks or groups, f


@pytest.mark.parametrize("group,prefix", [("bbh", "bbh_"), ("bbh_direct", "bbh_direct_")])
def test_bbh_groups_have_all_27_subtasks(group, prefix):
    cat = load_catalog()
    members = cat.expand(group)
    assert len(members) == BBH_SUBTASKS
    assert all(m.startswith(prefix) for m in members)
    assert "bbh_date_understanding" in cat.expand("bbh")


def test_subtask_overrides_apply():
    cat = load_catalog()
    assert cat.tasks["bbh_word_sorting"].extractor_args == {"format": "words", "answer_at": "end"}
    assert cat.tasks["bbh_date_understanding"].extractor_args == {"format": "mc", "answer_at": "end"}
    assert cat.tasks["bbh_dyck_languages"].dataset.path == "bbh/dyck_languages.json"


def test_unknown_task_suggests_close_names():
    with pytest.raises(ConfigError, match="did you mean bbh_date_understanding"):
        load_catalog().expand("bbh_date_understandin")


@pytest.mark.parametrize("text,match", [
    ("task: x\n  bad: [indent", "not valid YAML"),
    ("- just\n- a list\n", "expected a mapping"),
    ("task: x\nprompt: p.j2\ndataset: {path: a.jsonl}\ngeneration: {max_tokens: lots}\n", "generation.max_tokens"),
    ("task: x\ndataset: {path: a.jsonl}\nunknown_field: 1\n", "unknown_field"),
    ("group: g\nsubtasks: [a]\ntask: no_placeholder\n", "subtask"),
])
def test_malformed_specs_name_file_and_field(tmp_path: Path, text: str, match: str):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match) as exc:
        _parse_file(f)
    assert str(f) in str(exc.value)


def test_spec_hash_changes_with_prompt_settings():
    cat = load_catalog()
    a, b = cat.tasks["bbh_date_understanding"], cat.tasks["bbh_direct_date_understanding"]
    assert a.spec_hash() != b.spec_hash()
    assert a.spec_hash() == load_catalog().tasks["bbh_date_understanding"].spec_hash()
